// pgro-admin as a child process against an in-process control plane (fake data plane):
// output, --json, fleets, exit codes, token and TLS.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "controlplane_fixture.hpp"
#include "support/run_command.hpp"

namespace pgro::test {
namespace {

using Json = nlohmann::json;

CommandResult admin(std::vector<std::string> args, const Env& env = {}) {
  args.insert(args.begin(), PGRO_ADMIN_BINARY);
  Env e = {{"PGRO_ADMIN_TOKEN", ""}, {"PGRO_ADMIN_ADDR", ""}};
  for (const auto& [k, v] : env) e[k] = v;
  return runCommand(args, e, std::chrono::seconds(30));
}

std::size_t lines(const std::string& s) {
  return std::count(s.begin(), s.end(), '\n');
}

std::string closedPortAddr() {
  return "127.0.0.1:" + std::to_string(freeLoopbackPort());
}

TEST(AdminCli, EveryCommandHumanAndJson) {
  ControlPlaneFixture f;
  const std::string addr = f.adminAddr();
  struct Case {
    std::vector<std::string> command;
    std::string human_needle;
    std::string json_pointer;
  };
  const std::vector<Case> cases = {
      {{"cache", "stats"}, "hit ratio  75.0%", "/hit_ratio"},
      {{"stats"}, "3 open, 42 total, 1 refused, 2 auth failures", "/clients/total"},
      {{"sessions"}, "reader", "/sessions/0/user"},
      {{"config"}, "LISTEN_PORT", "/settings/LISTEN_PORT"},
      {{"reload"}, "reload: ok: reloaded 2 users", "/ok"},
      {{"cache", "ttl", "120"}, "cache TTL set to 120s", "/ttl_seconds"},
      {{"cache", "disable"}, "cache disabled", "/enabled"},
      {{"cache", "enable"}, "cache enabled", "/enabled"},
      {{"cache", "reset"}, "cache reset: 12 entries cleared", "/entries_cleared"},
  };
  for (const auto& c : cases) {
    auto args = c.command;
    args.insert(args.begin(), {"--addr", addr});
    const auto human = admin(args);
    EXPECT_EQ(human.exit_code, 0) << human.describe();
    EXPECT_NE(human.out.find(c.human_needle), std::string::npos) << human.describe();
    EXPECT_EQ(human.err, "");
    args.insert(args.begin(), "--json");
    const auto json = admin(args);
    EXPECT_EQ(json.exit_code, 0) << json.describe();
    Json parsed;
    ASSERT_NO_THROW(parsed = Json::parse(json.out)) << json.out;
    EXPECT_TRUE(parsed.is_object());
    EXPECT_TRUE(parsed.contains(Json::json_pointer(c.json_pointer))) << json.out;
  }
  EXPECT_EQ(f.target.ttl_seconds.load(), 120);
  EXPECT_TRUE(f.target.cache_enabled.load());
  EXPECT_EQ(f.target.reset_calls.load(), 2);
}

TEST(AdminCli, JsonValuesAreTyped) {
  ControlPlaneFixture f;
  const auto r = admin({"--addr", f.adminAddr(), "--json", "stats"});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  const Json j = Json::parse(r.out);
  EXPECT_EQ(j["cache"]["entries"], 12);
  EXPECT_EQ(j["queries"]["refused_by_reason"]["write"], 3);
  EXPECT_EQ(j["upstream"]["up"], true);
  EXPECT_EQ(j["version"], "0.1.0-test");
  const auto s = admin({"--addr", f.adminAddr(), "--json", "sessions"});
  const Json sj = Json::parse(s.out);
  EXPECT_EQ(sj["sessions"][0]["since"], "2023-11-14T22:13:20Z");
  EXPECT_EQ(sj["sessions"][1]["query"].get<std::string>().size(), 200u);
  const auto c = admin({"--addr", f.adminAddr(), "--json", "config"});
  EXPECT_EQ(Json::parse(c.out)["settings"]["ADMIN_TOKEN"], "***");
}

TEST(AdminCli, UnreachableIsOneLineAndExit3) {
  const std::string addr = closedPortAddr();
  const auto r = admin({"--addr", addr, "--timeout", "3", "stats"});
  EXPECT_EQ(r.exit_code, 3) << r.describe();
  EXPECT_EQ(lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find(addr), std::string::npos);
  EXPECT_EQ(r.out, "");
  const auto j = admin({"--addr", addr, "--json", "stats"});
  EXPECT_EQ(j.exit_code, 3);
  EXPECT_EQ(lines(j.err), 1u) << j.err;
}

TEST(AdminCli, UsageErrorsExit2) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{},
                                             {"frobnicate"},
                                             {"cache"},
                                             {"cache", "ttl"},
                                             {"cache", "ttl", "0"},
                                             {"cache", "ttl", "-5"},
                                             {"cache", "ttl", "abc"},
                                             {"--bogus", "stats"},
                                             {"--addr", "nohostport", "stats"},
                                             {"--timeout", "0", "stats"},
                                             {"--ca", "x.pem", "stats"}}) {
    const auto r = admin(args);
    EXPECT_EQ(r.exit_code, 2) << r.describe();
    EXPECT_EQ(lines(r.err), 1u) << r.describe();
  }
  const auto help = admin({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("Exit codes"), std::string::npos);
}

TEST(AdminCli, ReloadFailureExit5) {
  ControlPlaneFixture f;
  f.target.reload_ok = false;
  const auto r = admin({"--addr", f.adminAddr(), "reload"});
  EXPECT_EQ(r.exit_code, 5) << r.describe();
  EXPECT_NE(r.err.find("USERS_FILE: bad"), std::string::npos);
}

TEST(AdminCli, TokenFromFlagOrEnvironment) {
  auto opts = ControlPlaneFixture::defaultOptions();
  opts.admin_token = "tok-123";
  ControlPlaneFixture f(opts);
  const auto none = admin({"--addr", f.adminAddr(), "stats"});
  EXPECT_EQ(none.exit_code, 4) << none.describe();
  EXPECT_EQ(lines(none.err), 1u);
  EXPECT_EQ(admin({"--addr", f.adminAddr(), "--token", "nope", "stats"}).exit_code, 4);
  EXPECT_EQ(admin({"--addr", f.adminAddr(), "--token", "tok-123", "stats"}).exit_code, 0);
  EXPECT_EQ(admin({"stats"}, {{"PGRO_ADMIN_ADDR", f.adminAddr()}, {"PGRO_ADMIN_TOKEN", "tok-123"}})
                .exit_code,
            0);
}

TEST(AdminCli, FleetReportsEachDaemon) {
  ControlPlaneFixture a;
  ControlPlaneFixture b;
  const std::string down = closedPortAddr();

  const auto ok = admin({"--addr", a.adminAddr() + "," + b.adminAddr(), "cache", "reset"});
  EXPECT_EQ(ok.exit_code, 0) << ok.describe();
  EXPECT_NE(ok.out.find("== " + a.adminAddr() + " =="), std::string::npos);
  EXPECT_NE(ok.out.find("== " + b.adminAddr() + " =="), std::string::npos);
  EXPECT_EQ(a.target.reset_calls.load(), 1);
  EXPECT_EQ(b.target.reset_calls.load(), 1);

  const auto partial = admin(
      {"--json", "--addr", a.adminAddr() + "," + down + "," + b.adminAddr(), "cache", "reset"});
  EXPECT_EQ(partial.exit_code, 6) << partial.describe();
  EXPECT_EQ(lines(partial.err), 1u) << partial.err;
  const Json j = Json::parse(partial.out);
  EXPECT_EQ(j[a.adminAddr()]["entries_cleared"], 12);
  EXPECT_EQ(j[b.adminAddr()]["entries_cleared"], 12);
  EXPECT_EQ(j[down]["error"]["exit_code"], 3);
  EXPECT_EQ(a.target.reset_calls.load(), 2);
  EXPECT_EQ(b.target.reset_calls.load(), 2);

  const auto all_down = admin({"--addr", down + "," + closedPortAddr(), "stats"});
  EXPECT_EQ(all_down.exit_code, 3) << all_down.describe();
  EXPECT_EQ(lines(all_down.err), 2u);
}

TEST(AdminCli, Tls) {
  const auto cert = makeSelfSignedCert();
  auto opts = ControlPlaneFixture::defaultOptions();
  opts.tls_cert_file = cert.cert_file;
  opts.tls_key_file = cert.key_file;
  ControlPlaneFixture f(opts);
  const auto ok = admin({"--addr", f.adminAddr(), "--tls", "--ca", cert.cert_file, "stats"});
  EXPECT_EQ(ok.exit_code, 0) << ok.describe();
  const auto by_name = admin({"--addr", "localhost:" + std::to_string(f.plane->adminPort()),
                              "--tls", "--ca", cert.cert_file, "cache", "stats"});
  EXPECT_EQ(by_name.exit_code, 0) << by_name.describe();
  // Without the CA the self-signed certificate is not trusted; without --tls no handshake.
  EXPECT_EQ(admin({"--addr", f.adminAddr(), "--tls", "--timeout", "3", "stats"}).exit_code, 3);
  EXPECT_EQ(admin({"--addr", f.adminAddr(), "--timeout", "3", "stats"}).exit_code, 3);
}

}  // namespace
}  // namespace pgro::test
