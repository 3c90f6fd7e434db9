// GraphQL operations on inspected endpoints, with OpenShell's semantics
// (its policy-schema reference is the authority):
//
// - A recursive-descent parser for the executable part of a GraphQL
//   document (operations, fragments, selection sets, fields with aliases
//   and arguments, values of every kind, variables, directives, inline
//   fragments and fragment spreads; whitespace, commas and comments are
//   ignored tokens), bounded in size, tokens and nesting depth. Anything it
//   cannot read, or a type-system definition, is an error: a document the
//   proxy cannot classify is refused, never passed on.
// - The classifier finds the operation that will execute (operationName
//   picks one; several without operationName are refused, as a server
//   would) and its ROOT fields by their real names (an alias is only a
//   label), through fragment spreads and inline fragments. Fragment cycles,
//   spreads of unknown fragments, duplicate operation or fragment names and
//   an anonymous operation beside others are refused: a server rejects such
//   a document, and reading it one way while a server reads it another is
//   how a denied field slips through.
// - Introspection fields (`__schema`, `__type`, `__typename`) are root
//   fields like any other, as in OpenShell: a `fields` list must name them
//   to allow them.
// - Requests: GET (?query=&operationName=&extensions=, id/documentId/
//   queryId), POST application/json (an object or a batch array: every
//   operation of a batch must pass) and POST application/graphql. Automatic
//   persisted queries (extensions.persistedQuery.sha256Hash) and saved-query
//   ids without a document are refused unless `persisted_queries:
//   allow_registered` and the hash is in `graphql_persisted_queries`, whose
//   entry then stands for the operation.
// - WebSocket: `graphql-transport-ws` `subscribe` and legacy `graphql-ws`
//   `start` messages carry an operation; connection_init, ping, pong,
//   complete, stop and connection_terminate are lifecycle messages; any
//   other message is refused.
//
// Pure functions of their input: unit-tested and fuzzed directly.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "l7/rules.h"
#include "l7/target.h"

namespace rf::l7::graphql {

struct Limits {
  size_t max_document = 1 << 20;  // bytes (the body limit is the tighter bound)
  size_t max_tokens = 20000;
  int max_depth = 128;  // nested selection sets, values, list types
};

// One operation as the rules see it.
struct Operation {
  std::string type;  // query, mutation, subscription; "" for a hash-only persisted query
  std::string name;  // empty when anonymous
  std::vector<std::string> fields;  // root fields, sorted, unique
  bool persisted = false;
  std::string persisted_key;  // the sha256Hash, or the saved-query id
};

// What a request (or WebSocket message) asks for: operations, or why it
// cannot be classified.
struct Request {
  std::vector<Operation> operations;
  std::string error;
};

// The operation of `document` that executes, named by `operation_name`
// (empty: the only one).
Result<Operation> ClassifyDocument(std::string_view document, std::string_view operation_name,
                                   const Limits& limits = {});

// An HTTP request to a GraphQL endpoint: `head` is the request head (its
// Content-Type and Content-Encoding fields are read), `body` the whole body.
Request ClassifyHttp(std::string_view method, const Target& target, std::string_view head,
                     std::string_view body);

// A client text message on a GraphQL-over-WebSocket connection. A lifecycle
// message sets *control (and `type`), and classifies as no operation.
Request ClassifyWebSocketMessage(std::string_view text, bool* control, std::string* type);

// The verdict of an endpoint's GraphQL rules on a classified request:
// refused when it cannot be classified (even with enforcement: audit, as
// OpenShell does), when a persisted query is not registered, when a deny
// rule matches any operation or when some operation no allow rule covers.
Verdict Evaluate(const EndpointRules& rules, const Request& request);

// "type=mutation name=Drop fields=deleteRepository" per operation, "; "
// between them: what the audit event records (never variables or
// argument values).
std::string Summary(const Request& request);

}  // namespace rf::l7::graphql
