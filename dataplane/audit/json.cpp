#include "audit/json.hpp"

#include "config/json_text.hpp"

namespace pgro::audit {

void appendJsonString(std::string& out, std::string_view text) {
  out.reserve(out.size() + text.size() + 2);
  out.push_back('"');
  config::appendJsonEscaped(out, text);
  out.push_back('"');
}

}  // namespace pgro::audit
