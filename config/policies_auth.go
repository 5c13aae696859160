package config

// Auth configures authentication providers. (Owned by the auth work: fill in.)
type Auth struct{}

// RuleAuth is a rule's authentication and authorization requirement.
type RuleAuth struct{}

func (v *validator) authConfig(path string, a Auth, tls ServerTLS) {}
func (v *validator) ruleAuth(path string, r RuleAuth, a Auth)      {}
func (a *Auth) resolvePaths(resolve func(*string))                 {}
func (a *Auth) complete()                                          {}
