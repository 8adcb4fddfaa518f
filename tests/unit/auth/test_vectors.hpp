#pragma once

// Reference data shared by the auth tests.

namespace pgro::auth::test_vectors {

// RFC 7677 section 3: user "user", password "pencil".
inline constexpr char kRfcPassword[] = "pencil";
inline constexpr char kRfcUser[] = "user";
inline constexpr char kRfcClientNonce[] = "rOprNGfwEbeRWgbNEkqO";
inline constexpr char kRfcServerNonce[] = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
inline constexpr char kRfcSaltBase64[] = "W22ZaJ0SNY7soEsUEjb6gQ==";
inline constexpr char kRfcClientFirst[] = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
inline constexpr char kRfcServerFirst[] =
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
inline constexpr char kRfcClientFinal[] =
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
    "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
inline constexpr char kRfcServerFinal[] = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

// pg_authid.rolpassword of CREATE ROLE u PASSWORD 'secret' (password_encryption =
// 'scram-sha-256'), taken from a throwaway PostgreSQL 15 cluster (initdb + postgres --single);
// PostgreSQL chose the salt.
inline constexpr char kPgSecretVerifier[] =
    "SCRAM-SHA-256$4096:YpDHqHZ7xDde1JV8V4FUkg==$maNKGFvNAJgEjW9+cOOZUl2f3+PqvJKQJQFIufVCdrk=:"
    "Zxyj+ksA6GjUUazbYFftEUrxZ5Vg70zthfuzvUXY7UU=";

}  // namespace pgro::auth::test_vectors
