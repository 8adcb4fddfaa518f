#include "policy/classifier.hpp"
#include "policy/denial.hpp"

namespace pgro::policy {
namespace {

// 'v' > 's' > 'i': keep the most volatile overload of a name within a schema.
int rank(char volatility) {
  switch (volatility) {
    case 'i':
      return 0;
    case 's':
      return 1;
    default:
      return 2;  // 'v' and anything unexpected: assume the worst
  }
}

}  // namespace

FunctionCatalog::FunctionCatalog(const std::vector<FunctionInfo>& functions) {
  for (const FunctionInfo& info : functions) {
    std::vector<Entry>& entries = by_name_[detail::lowercase(info.name)];
    std::string schema = detail::lowercase(info.schema);
    bool merged = false;
    for (Entry& entry : entries) {
      if (entry.schema == schema) {
        if (rank(info.volatility) > rank(entry.volatility)) {
          entry.volatility = info.volatility;
        }
        merged = true;
        break;
      }
    }
    if (!merged) {
      entries.push_back(
          Entry{std::move(schema), rank(info.volatility) == 2 ? 'v' : info.volatility});
    }
  }
}

const std::vector<FunctionCatalog::Entry>* FunctionCatalog::find(std::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &it->second;
}

}  // namespace pgro::policy
