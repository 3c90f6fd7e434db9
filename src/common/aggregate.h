// Field-by-field access to plain aggregates (structs with public fields and
// no constructors), for code that must cover every field of a struct and
// should stop compiling, not silently skip, when one is added: the
// precompiled seccomp table's key and the generated default policy.
#pragma once

#include <cstddef>
#include <type_traits>

namespace rf {

namespace aggregate_detail {

// Converts to any field type, so that `T{AnyField{}, ...}` compiles exactly
// while there are no more initialisers than fields.
struct AnyField {
  template <class U>
  operator U() const;  // never defined: only used unevaluated
};

template <class T, class... Fields>
constexpr size_t CountFields() {
  if constexpr (requires { T{Fields{}..., AnyField{}}; })
    return CountFields<T, Fields..., AnyField>();
  else
    return sizeof...(Fields);
}

}  // namespace aggregate_detail

// The number of fields of the aggregate T (direct fields; T has no bases).
template <class T>
constexpr size_t AggregateFieldCount() {
  static_assert(std::is_aggregate_v<T>, "only plain aggregates have a field count");
  return aggregate_detail::CountFields<T>();
}

// The largest field count ForEachField handles.
inline constexpr size_t kMaxAggregateFields = 16;

// Calls f(field) for every field of the aggregate `v`, in declaration order.
// A struct with more fields than kMaxAggregateFields does not compile.
template <class T, class F>
constexpr void ForEachField(T& v, F&& f) {
  constexpr size_t n = AggregateFieldCount<std::remove_cv_t<T>>();
  static_assert(n <= kMaxAggregateFields, "ForEachField: add a case for this many fields");
  // clang-format off
  if constexpr (n == 1) { auto& [a] = v; f(a); }
  else if constexpr (n == 2) { auto& [a, b] = v; f(a); f(b); }
  else if constexpr (n == 3) { auto& [a, b, c] = v; f(a); f(b); f(c); }
  else if constexpr (n == 4) { auto& [a, b, c, d] = v; f(a); f(b); f(c); f(d); }
  else if constexpr (n == 5) { auto& [a, b, c, d, e] = v; f(a); f(b); f(c); f(d); f(e); }
  else if constexpr (n == 6) {
    auto& [a, b, c, d, e, g] = v; f(a); f(b); f(c); f(d); f(e); f(g); }
  else if constexpr (n == 7) {
    auto& [a, b, c, d, e, g, h] = v; f(a); f(b); f(c); f(d); f(e); f(g); f(h); }
  else if constexpr (n == 8) {
    auto& [a, b, c, d, e, g, h, i] = v; f(a); f(b); f(c); f(d); f(e); f(g); f(h); f(i); }
  else if constexpr (n == 9) {
    auto& [a, b, c, d, e, g, h, i, j] = v;
    f(a); f(b); f(c); f(d); f(e); f(g); f(h); f(i); f(j); }
  else if constexpr (n == 10) {
    auto& [a, b, c, d, e, g, h, i, j, k] = v;
    f(a); f(b); f(c); f(d); f(e); f(g); f(h); f(i); f(j); f(k); }
  else if constexpr (n == 11) {
    auto& [a, b, c, d, e, g, h, i, j, k, l] = v;
    f(a); f(b); f(c); f(d); f(e); f(g); f(h); f(i); f(j); f(k); f(l); }
  else if constexpr (n == 12) {
    auto& [a, b, c, d, e, g, h, i, j, k, l, m] = v;
    f(a); f(b); f(c); f(d); f(e); f(g); f(h); f(i); f(j); f(k); f(l); f(m); }
  else if constexpr (n == 13) {
    auto& [a, b, c, d, e, g, h, i, j, k, l, m, o] = v;
    f(a); f(b); f(c); f(d); f(e); f(g); f(h); f(i); f(j); f(k); f(l); f(m); f(o); }
  else if constexpr (n == 14) {
    auto& [a, b, c, d, e, g, h, i, j, k, l, m, o, p] = v;
    f(a); f(b); f(c); f(d); f(e); f(g); f(h); f(i); f(j); f(k); f(l); f(m); f(o); f(p); }
  else if constexpr (n == 15) {
    auto& [a, b, c, d, e, g, h, i, j, k, l, m, o, p, q] = v;
    f(a); f(b); f(c); f(d); f(e); f(g); f(h); f(i); f(j); f(k); f(l); f(m); f(o); f(p);
    f(q); }
  else if constexpr (n == 16) {
    auto& [a, b, c, d, e, g, h, i, j, k, l, m, o, p, q, r] = v;
    f(a); f(b); f(c); f(d); f(e); f(g); f(h); f(i); f(j); f(k); f(l); f(m); f(o); f(p);
    f(q); f(r); }
  // clang-format on
}

}  // namespace rf
