"""Route modules: ``health`` (probes, metrics), ``faces`` (detect, embed, verify, analyze),
``gallery`` (identify, enroll, identities), ``keys`` (API key admin), ``page`` (the web page)."""
