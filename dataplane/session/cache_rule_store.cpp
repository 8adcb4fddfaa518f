#include "session/cache_rule_store.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

namespace pgro::session {

bool CacheRuleStore::load(std::string& error) {
  if (path_.empty()) return true;
  std::string text;
  {
    std::ifstream in(path_, std::ios::binary);
    if (!in) {
      if (errno == ENOENT) {
        text.clear();  // not written yet: no rules
      } else {
        error = path_ + ": " + std::strerror(errno);
        return false;
      }
    } else {
      std::ostringstream buffer;
      buffer << in.rdbuf();
      if (in.bad()) {
        error = path_ + ": read error";
        return false;
      }
      text = std::move(buffer).str();
    }
  }
  auto parsed = policy::parseCacheRules(text);
  if (!parsed.rules) {
    error = path_ + ": " + parsed.error;
    return false;
  }
  std::lock_guard lock(mu_);
  parsed.rules->keepCounters(*rules_);
  publish(std::make_shared<const policy::CacheRuleSet>(std::move(*parsed.rules)));
  return true;
}

bool CacheRuleStore::add(policy::CacheRule rule, std::string& error) {
  if (error = rule.check(); !error.empty()) return false;
  std::lock_guard lock(mu_);
  auto next = std::make_shared<const policy::CacheRuleSet>(rules_->with(std::move(rule)));
  if (!write(*next, error)) return false;
  publish(std::move(next));
  return true;
}

bool CacheRuleStore::remove(std::uint64_t fingerprint, std::string& error) {
  error.clear();
  std::lock_guard lock(mu_);
  if (rules_->find(fingerprint) == nullptr) return false;
  auto next = std::make_shared<const policy::CacheRuleSet>(rules_->without(fingerprint));
  if (!write(*next, error)) return false;
  publish(std::move(next));
  return true;
}

void CacheRuleStore::publish(std::shared_ptr<const policy::CacheRuleSet> rules) {
  rules_ = std::move(rules);
  generation_.fetch_add(1, std::memory_order_release);
}

bool CacheRuleStore::write(const policy::CacheRuleSet& rules, std::string& error) const {
  if (path_.empty()) return true;
  const std::string text = policy::formatCacheRules(rules);
  const std::string temporary = path_ + ".tmp";
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    error = temporary + ": " + std::strerror(errno);
    return false;
  }
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error = temporary + ": " + std::strerror(errno);
      ::close(fd);
      ::unlink(temporary.c_str());
      return false;
    }
    done += static_cast<std::size_t>(n);
  }
  const bool synced = ::fsync(fd) == 0;
  if (!(::close(fd) == 0 && synced)) {
    error = temporary + ": " + std::strerror(errno);
    ::unlink(temporary.c_str());
    return false;
  }
  if (std::rename(temporary.c_str(), path_.c_str()) != 0) {
    error = path_ + ": " + std::strerror(errno);
    ::unlink(temporary.c_str());
    return false;
  }
  return true;
}

}  // namespace pgro::session
