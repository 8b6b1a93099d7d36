//! OpenID Connect bearer-token verification. Owned by the OIDC work.
