// SQLSTATE codes pgro sends itself (PostgreSQL docs, Appendix A).
#pragma once

#include <string_view>

namespace pgro::protocol::sqlstate {

inline constexpr std::string_view kSuccessfulCompletion = "00000";
inline constexpr std::string_view kConnectionFailure = "08006";
inline constexpr std::string_view kProtocolViolation = "08P01";
inline constexpr std::string_view kFeatureNotSupported = "0A000";
inline constexpr std::string_view kInvalidAuthorizationSpecification = "28000";
inline constexpr std::string_view kInvalidPassword = "28P01";
inline constexpr std::string_view kInvalidCatalogName = "3D000";  // unknown database
inline constexpr std::string_view kReadOnlySqlTransaction = "25006";
inline constexpr std::string_view kInsufficientPrivilege = "42501";
inline constexpr std::string_view kSyntaxError = "42601";
inline constexpr std::string_view kOutOfMemory = "53200";
inline constexpr std::string_view kUndefinedFunction = "42883";
inline constexpr std::string_view kTooManyConnections = "53300";
inline constexpr std::string_view kProgramLimitExceeded = "54000";
inline constexpr std::string_view kConfigurationLimitExceeded = "53400";
inline constexpr std::string_view kQueryCanceled = "57014";
inline constexpr std::string_view kAdminShutdown = "57P01";
inline constexpr std::string_view kIdleSessionTimeout = "57P05";
inline constexpr std::string_view kIdleInTransactionSessionTimeout = "25P03";
inline constexpr std::string_view kCannotConnectNow = "57P03";
inline constexpr std::string_view kInternalError = "XX000";

}  // namespace pgro::protocol::sqlstate
