// A session's settings are copied on write (SessionParams) from sets shared between sessions
// that logged in alike (ParameterSets): a change by one session never shows in another's.
#include <gtest/gtest.h>

#include "session/session_parameters.hpp"

namespace pgro::session {
namespace {

using Map = SessionParams::Map;

TEST(SessionParams, SessionsThatLoggedInAlikeShareOneSet) {
  ParameterSets sets;
  const Map login{{"application_name", "grafana"}, {"TimeZone", "UTC"}};
  auto a = sets.intern(login);
  auto b = sets.intern(Map(login));
  EXPECT_EQ(a.get(), b.get());
  auto c = sets.intern({{"application_name", "psql"}, {"TimeZone", "UTC"}});
  EXPECT_NE(a.get(), c.get());
  EXPECT_EQ(c->at("application_name"), "psql");
}

TEST(SessionParams, AChangeIsTheSessionsOwnAndLeavesTheSharedSetAlone) {
  ParameterSets sets;
  auto shared = sets.intern({{"search_path", "public"}, {"TimeZone", "UTC"}});
  SessionParams alice;
  SessionParams bob;
  alice.assign(shared);
  bob.assign(shared);
  EXPECT_EQ(&alice.map(), &bob.map());

  alice.edit()["search_path"] = "alice_schema";
  alice.edit().erase("TimeZone");
  EXPECT_EQ(alice.value("search_path"), "alice_schema");
  EXPECT_FALSE(alice.contains("TimeZone"));
  EXPECT_EQ(bob.value("search_path"), "public");
  EXPECT_EQ(bob.value("TimeZone"), "UTC");
  EXPECT_EQ(shared->at("search_path"), "public");
  EXPECT_EQ(shared->size(), 2U);

  // DISCARD ALL: back to the shared baseline, and shared again.
  alice.assign(shared);
  EXPECT_EQ(&alice.map(), shared.get());
  EXPECT_EQ(alice.value("search_path"), "public");
}

TEST(SessionParams, AnUnsharedSetIsChangedInPlace) {
  SessionParams own;
  own.assign(Map{{"DateStyle", "ISO, MDY"}});
  const Map* before = &own.map();
  own.edit()["DateStyle"] = "German";
  EXPECT_EQ(&own.map(), before);
  EXPECT_EQ(own.value("DateStyle"), "German");
  EXPECT_EQ(own.value("missing"), "");
}

TEST(SessionParams, PastItsCapacityAnInternedSetIsNotShared) {
  ParameterSets sets(1);
  auto first = sets.intern({{"a", "1"}});
  auto second = sets.intern({{"a", "2"}});
  auto again = sets.intern({{"a", "2"}});
  EXPECT_EQ(sets.intern({{"a", "1"}}).get(), first.get());
  EXPECT_NE(second.get(), again.get());
  EXPECT_EQ(*second, *again);
  // The unshared one is the caller's alone: changing a session's copy of it is in place.
  SessionParams s;
  s.assign(second);
  second.reset();
  const Map* before = &s.map();
  s.edit()["a"] = "3";
  EXPECT_EQ(&s.map(), before);
}

}  // namespace
}  // namespace pgro::session
