// How pgro reads memory and real setting values, as PostgreSQL 15's guc.c does.
#include "protocol/setting_values.hpp"

#include <gtest/gtest.h>

namespace pgro::protocol {
namespace {

TEST(SettingValuesTest, MemoryUnitsAsPostgresReadsThem) {
  EXPECT_EQ(parseMemoryKb("1024"), 1024);  // no unit: the setting's base unit, kB
  EXPECT_EQ(parseMemoryKb("64MB"), 64 * 1024);
  EXPECT_EQ(parseMemoryKb("2GB"), 2 * 1024 * 1024);
  EXPECT_EQ(parseMemoryKb("1TB"), 1024.0 * 1024 * 1024);
  EXPECT_EQ(parseMemoryKb("100kB"), 100);
  EXPECT_EQ(parseMemoryKb("2048B"), 2);
  EXPECT_EQ(parseMemoryKb("1000B"), 1);  // rounded, as rint() in parse_int
  EXPECT_EQ(parseMemoryKb(" 64 MB "), 64 * 1024);
  EXPECT_EQ(parseMemoryKb("1.5GB"), 1.5 * 1024 * 1024);
  EXPECT_EQ(parseMemoryKb("1e3"), 1000);
  EXPECT_EQ(parseMemoryKb("+8MB"), 8 * 1024);
  EXPECT_EQ(parseMemoryKb("-1"), -1);
}

TEST(SettingValuesTest, WhatPostgresRefusesOrPgroCannotReadIsNullopt) {
  for (const char* bad : {"", " ", "MB", "64mb", "64 Mb", "64KB", "64MB x", "64MB,1", "1.2.3",
                          "0x10", "inf", "nan", "1e", "e3", "1e999", "64 M B"}) {
    EXPECT_EQ(parseMemoryKb(bad), std::nullopt) << "\"" << bad << "\"";
  }
}

TEST(SettingValuesTest, RealSettings) {
  EXPECT_EQ(parseRealSetting("2"), 2.0);
  EXPECT_EQ(parseRealSetting(" 1.5 "), 1.5);
  EXPECT_EQ(parseRealSetting("1e1"), 10.0);
  for (const char* bad : {"", "2x", "NaN", "inf", "-inf", "1,5"}) {
    EXPECT_EQ(parseRealSetting(bad), std::nullopt) << bad;
  }
}

}  // namespace
}  // namespace pgro::protocol
