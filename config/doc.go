// Package config reads the gateway's configuration file: a YAML document
// that names the listeners, the upstream clusters, the routes that send
// calls to them and the services registered at start-up.
//
// Load and Parse turn the file into a typed Config in four steps:
//
//  1. yaml.v3 parses the text into a node tree, which keeps the line and
//     column of every value. Syntax errors stop here.
//  2. A decoder walks the tree into the Config structs, field by yaml tag.
//     Unknown fields, duplicate keys and values of the wrong kind are
//     problems; anchors, aliases and merge keys ("<<") work as in YAML.
//  3. Relative file paths are resolved against the file's directory, and
//     the configuration is validated: addresses, names, references to
//     clusters, exclusive options, regular expressions, the existence
//     of the files it refers to, and that its TLS material loads.
//     Validation sees the file as written, so a value written as zero is
//     told apart from one left out.
//  4. Defaults fill what the file leaves out (each is documented on its
//     field) and derived values are stored: default route names,
//     canonical method names, lower-case header names, and the clusters
//     that services with inline endpoints imply.
//
// Every problem found in steps 2 and 3 is reported at once, in file
// order, as an *Error whose Problems each carry the file, line, column
// and path of the offending field:
//
//	gateway.yaml:14:7: routes[1].clusters[0].name: unknown cluster "userz" (known: users, orders)
//
// Summary renders a Config for people and golden tests; `gateway
// validate` prints it.
package config
