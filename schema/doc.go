// Package schema makes the gateway's unified GraphQL schema from the registered services' protobuf
// descriptors, with no code generation: the SDL that clients see, the parsed schema gqlgen serves,
// and the plan the executor (package resolvers) follows to turn a GraphQL field into a method call
// and protobuf values into GraphQL values and back.
//
// Data flow. Off the request path, the registry passes every exposed service and the GraphQL options
// of the config to Build. Build walks each method's request and response messages, and the messages
// reachable from them through fields and links, into object, input and enum types; renders the SDL;
// and loads it with gqlparser, so what it returns is a valid schema. The result is immutable and
// belongs to one snapshot. Per request, the executor looks up root fields (Schema.RootField) and
// follows pointers: RootField.Args and Result, Field.Object, Field.Input, Field.Enum, Field.Link.
//
// # Root fields
//
// Each unary method is a field of Query or Mutation named lowerCamel(method) (GetUser: getUser), with
// the request's fields as arguments. It is a Query when the method has a google.api.http GET binding
// (its own or an additional one) or idempotency_level NO_SIDE_EFFECTS, a Mutation otherwise. Each
// server-streaming method is a Subscription field. Client- and bidi-streaming methods are left out.
// Root fields are nullable: a failed call is null with an error. Root field names are unique across
// Query, Mutation and Subscription, as the registry checks. When no method is a query, Query gets
// the field _empty: Boolean (PlaceholderField), always null, because GraphQL requires a Query type
// with a field.
//
// Overrides, in the config (Options.Overrides) or in the services' .proto files
// (gateway/options/v1/options.proto: (gateway.options.v1.graphql) on a method,
// (gateway.options.v1.graphql_service) on a service), name a method's root field, move a unary
// method between Query and Mutation, or hide it. On a service, the name is a prefix for its methods'
// root fields ("users": usersGetUser) and the operation applies to its unary methods. The config wins
// over the .proto files and a method over its service; hiding by any of them hides.
//
// # Types
//
// A message is an object type named by its name within its package, nested names joined by '_'
// (shop.users.v1.User.Address: User_Address), and on input an input type named <Name>Input.
// Options.Prefixes puts a prefix before the names of one package's messages and enums. Two
// different messages or enums with one name, or a name taken by a scalar or root type, are an error
// naming both. Only types reachable from a root field are in the schema. A message with no fields
// in a direction (google.protobuf.Empty, or all fields OUTPUT_ONLY on input) is a Boolean in that
// direction: true when set.
//
// Fields are named by their JSON names (lowerCamel), in declaration order; fields of one message
// whose JSON names agree (proto2 allows foo_bar and fooBar) are each named by their proto names
// instead, in the object and the input type alike, and if those clash too, or are not GraphQL
// names, Build fails naming the message and the fields. On output, repeated fields are [T!]! and
// maps JSON!, because protobuf has no null list; singular scalars and enums without presence are
// non-null, as they always have a value; messages, oneof members and optional scalars are nullable.
// On input everything is nullable except fields with google.api.field_behavior REQUIRED (or proto2
// required), which are non-null unless they are oneof members. OUTPUT_ONLY fields are left out of
// inputs and arguments, INPUT_ONLY fields out of objects. Comments in the .proto source become
// descriptions; descriptors without source info (generated Go, most servers' reflection) give none.
// Fields, methods and enum values marked deprecated are @deprecated (input fields and arguments
// only where nullable, as GraphQL demands).
//
// Scalars:
//
//	bool                               Boolean
//	int32, sint32, sfixed32            Int
//	uint32, fixed32                    UInt32: a number on output, a number or a decimal string on
//	                                   input (GraphQL's Int stops at 2^31-1)
//	int64, sint64, sfixed64            Int64: a string on output, a string or number on input
//	uint64, fixed64                    UInt64: likewise
//	float, double                      Float
//	string                             String
//	bytes                              Bytes: base64
//	enum                               an enum of the protobuf value names, the zero value
//	                                   (..._UNSPECIFIED) included, since proto3 fields hold it when unset
//	google.protobuf.Timestamp          DateTime: RFC 3339
//	google.protobuf.Duration           Duration: "1.5s", as in protobuf's JSON
//	google.protobuf.FieldMask          [String!]: one path a string, in JSON names on output; the
//	                                   executor accepts proto or JSON names on input. A list, not
//	                                   protobuf JSON's comma-joined string, so clients need no parsing
//	google.protobuf.*Value wrappers    the nullable built-in (Int64Value: Int64, BytesValue: Bytes)
//	google.protobuf.Struct, Value,     JSON, in protobuf's JSON form
//	ListValue, Any; map fields
//	google.protobuf.Empty              Boolean
//
// Oneofs are nullable fields. GraphQL's @oneOf demands exactly one field of a whole input object,
// which is not a protobuf oneof (at most one, of some of the fields), so inputs record their oneofs
// (Input.Oneofs) for the executor to check, and the members' descriptions say it.
//
// # Links
//
// A link adds a field to the object type of a message; its value comes from calling another unary
// method with request fields taken from the message (Order.user: GetUser(id: user_id)). Links come
// from Options.Links and from (gateway.options.v1.graphql_link) options on messages; a configured
// link replaces a declared one of the same field. A link's field is nullable, takes no arguments and
// has the method's response type, or the type of its ResultField (User.orders: ListOrders(user_id:
// id).orders is a [Order!], not the ListOrdersResponse). With a batch method, the link's single
// argument is the key: the executor collects the keys of one request into calls of the batch
// method and matches the results by their key field. The results of the batch method must be of the
// type the link's method returns, so either call gives the field its value; a key the batch answer
// has no result for fails the field with NOT_FOUND and a google.rpc.ResourceInfo naming that type
// and the key, as the link's method answers for a record it does not have, so batching changes
// nothing a client sees for a missing record but the error's message. A link may call a hidden
// method; links on messages the schema does not reach are ignored, links on unknown messages are
// errors.
//
// # Compatibility
//
// BreakingChanges compares two schemas as clients see them, from the first one's root fields down,
// and lists what the second breaks for clients of the first. The registry refuses a registration
// whose update would break its clients so; comparing built schemas rather than descriptors keeps
// the check true to whatever this package makes of the descriptors and options.
//
// # Copies of shared files
//
// Registrations may each bring a copy of a shared file (shop/common/v1/money.proto); the registry
// makes sure the copies agree, and links the services of a registration whose copy is older than
// another's to the newest one, so the copies Build sees differ in comments at most. One GraphQL
// type then has one Object (or Input) per copy, each
// holding the field descriptors of its copy, so the executor can read and write dynamic messages
// of either with the descriptors they were made from. ObjectType and InputType return the first
// copy's; ObjectOf, InputOf and the pointers of the plan give the one a descriptor needs.
package schema
