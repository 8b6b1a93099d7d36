//! A real OpenID Connect issuer (npm `oidc-provider`) started for tests. Owned by the OIDC work.
