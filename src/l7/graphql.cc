#include "l7/graphql.h"

#include <algorithm>
#include <map>
#include <set>

#include "common/ascii.h"
#include "l7/glob.h"
#include "l7/json.h"

namespace rf::l7::graphql {

namespace {

// ---- Lexer (GraphQL spec, "Source Text") ----

enum class Tok { kEnd, kPunct, kName, kInt, kFloat, kString, kBlockString };

struct Token {
  Tok kind = Tok::kEnd;
  std::string_view text;  // the punctuator, the name, the literal as written
  size_t offset = 0;
};

bool NameStart(char c) { return c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
bool NameContinue(char c) { return NameStart(c) || (c >= '0' && c <= '9'); }
bool Digit(char c) { return c >= '0' && c <= '9'; }
bool Hex(char c) { return Digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

class Lexer {
 public:
  Lexer(std::string_view src, size_t max_tokens) : s_(src), max_tokens_(max_tokens) {}

  // The next token, or an error naming what and where (a byte offset).
  Result<Token> Next() {
    SkipIgnored();
    Token t;
    t.offset = i_;
    if (i_ >= s_.size()) return t;
    if (++tokens_ > max_tokens_)
      return Status::Invalid("more than " + std::to_string(max_tokens_) + " tokens");
    char c = s_[i_];
    if (c == '.') {
      if (s_.substr(i_, 3) != "...") return Fail("'.' that is not '...'");
      t.kind = Tok::kPunct, t.text = s_.substr(i_, 3);
      i_ += 3;
      return t;
    }
    if (std::string_view("!$&():=@[]{|}").find(c) != std::string_view::npos) {
      t.kind = Tok::kPunct, t.text = s_.substr(i_, 1);
      ++i_;
      return t;
    }
    if (NameStart(c)) {
      size_t b = i_;
      while (i_ < s_.size() && NameContinue(s_[i_])) ++i_;
      t.kind = Tok::kName, t.text = s_.substr(b, i_ - b);
      return t;
    }
    if (c == '-' || Digit(c)) return Number(t);
    if (c == '"') return s_.substr(i_, 3) == "\"\"\"" ? BlockString(t) : String(t);
    return Fail("unexpected character");
  }

 private:
  Status Fail(const std::string& what) const {
    return Status::Invalid(what + " at offset " + std::to_string(i_));
  }

  void SkipIgnored() {
    while (i_ < s_.size()) {
      char c = s_[i_];
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',') {
        ++i_;
      } else if (c == '#') {
        while (i_ < s_.size() && s_[i_] != '\n' && s_[i_] != '\r') ++i_;
      } else if (s_.substr(i_, 3) == "\xEF\xBB\xBF") {
        i_ += 3;  // byte order mark
      } else {
        return;
      }
    }
  }

  Result<Token> Number(Token t) {
    size_t b = i_;
    if (s_[i_] == '-') ++i_;
    if (i_ >= s_.size() || !Digit(s_[i_])) return Fail("'-' without a digit");
    if (s_[i_] == '0') {
      ++i_;
      if (i_ < s_.size() && Digit(s_[i_])) return Fail("a number with a leading zero");
    } else {
      while (i_ < s_.size() && Digit(s_[i_])) ++i_;
    }
    bool is_float = false;
    if (i_ < s_.size() && s_[i_] == '.') {
      ++i_;
      if (i_ >= s_.size() || !Digit(s_[i_])) return Fail("a fraction without digits");
      while (i_ < s_.size() && Digit(s_[i_])) ++i_;
      is_float = true;
    }
    if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
      ++i_;
      if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) ++i_;
      if (i_ >= s_.size() || !Digit(s_[i_])) return Fail("an exponent without digits");
      while (i_ < s_.size() && Digit(s_[i_])) ++i_;
      is_float = true;
    }
    if (i_ < s_.size() && (s_[i_] == '.' || NameStart(s_[i_])))
      return Fail("a number followed by '.' or a name");
    t.kind = is_float ? Tok::kFloat : Tok::kInt;
    t.text = s_.substr(b, i_ - b);
    return t;
  }

  Result<Token> String(Token t) {
    size_t b = i_++;
    while (i_ < s_.size()) {
      auto c = static_cast<unsigned char>(s_[i_]);
      if (c == '"') {
        ++i_;
        t.kind = Tok::kString, t.text = s_.substr(b, i_ - b);
        return t;
      }
      if (c == '\n' || c == '\r') return Fail("a line break inside a string");
      if (c < 0x20 && c != '\t') return Fail("a control character inside a string");
      if (c == '\\') {
        if (++i_ >= s_.size()) break;
        char e = s_[i_];
        if (e == 'u') {
          ++i_;
          if (i_ < s_.size() && s_[i_] == '{') {
            // \u{...}: one to six hex digits.
            size_t n = 0;
            ++i_;
            while (i_ < s_.size() && Hex(s_[i_]) && n < 6) ++i_, ++n;
            if (n == 0 || i_ >= s_.size() || s_[i_] != '}') return Fail("a bad \\u{} escape");
            ++i_;
          } else {
            for (int k = 0; k < 4; ++k, ++i_)
              if (i_ >= s_.size() || !Hex(s_[i_])) return Fail("a bad \\u escape");
          }
          continue;
        }
        if (std::string_view("\"\\/bfnrt").find(e) == std::string_view::npos)
          return Fail("an unknown escape");
        ++i_;
        continue;
      }
      ++i_;
    }
    return Fail("an unterminated string");
  }

  Result<Token> BlockString(Token t) {
    size_t b = i_;
    i_ += 3;
    while (i_ < s_.size()) {
      if (s_.substr(i_, 4) == "\\\"\"\"") {
        i_ += 4;
        continue;
      }
      if (s_.substr(i_, 3) == "\"\"\"") {
        i_ += 3;
        t.kind = Tok::kBlockString, t.text = s_.substr(b, i_ - b);
        return t;
      }
      auto c = static_cast<unsigned char>(s_[i_]);
      if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
        return Fail("a control character inside a block string");
      ++i_;
    }
    return Fail("an unterminated block string");
  }

  std::string_view s_;
  size_t i_ = 0;
  size_t tokens_ = 0;
  size_t max_tokens_;
};

// ---- Parser (GraphQL spec, "Executable Definitions") ----

struct Selection {
  enum Kind { kField, kSpread, kInline } kind = kField;
  std::string name;  // the field's real name (not its alias), or the fragment's
  int set = -1;      // an inline fragment's selection set
};

struct OperationDef {
  std::string type, name;
  int set = -1;
  size_t offset = 0;
};

struct Document {
  std::vector<std::vector<Selection>> sets;
  std::vector<OperationDef> operations;
  std::map<std::string, int> fragments;  // name -> selection set
  // Spreads anywhere inside each fragment (nested ones included), and in
  // the operations: for cycles and unknown fragments.
  std::map<std::string, std::vector<std::string>> fragment_spreads;
  std::vector<std::string> all_spreads;
};

class Parser {
 public:
  Parser(std::string_view src, const Limits& l) : lex_(src, l.max_tokens), limits_(l) {}

  Result<Document> Parse() {
    if (Status s = Advance(); !s.ok()) return s;
    if (tok_.kind == Tok::kEnd) return Status::Invalid("an empty document");
    while (tok_.kind != Tok::kEnd)
      if (Status s = Definition(); !s.ok()) return s;
    return std::move(doc_);
  }

 private:
  Status Advance() {
    auto t = lex_.Next();
    if (!t.ok()) return t.status();
    tok_ = *t;
    return Status::Ok();
  }
  Status Fail(const std::string& what) const {
    std::string got = tok_.kind == Tok::kEnd ? "the end" : "'" + std::string(tok_.text) + "'";
    return Status::Invalid("expected " + what + ", got " + got + " at offset " +
                           std::to_string(tok_.offset));
  }
  bool Is(std::string_view punct) const { return tok_.kind == Tok::kPunct && tok_.text == punct; }
  bool IsName(std::string_view n) const { return tok_.kind == Tok::kName && tok_.text == n; }
  Status Expect(std::string_view punct) {
    if (!Is(punct)) return Fail("'" + std::string(punct) + "'");
    return Advance();
  }
  Result<std::string> Name() {
    if (tok_.kind != Tok::kName) return Fail("a name");
    std::string n(tok_.text);
    if (Status s = Advance(); !s.ok()) return s;
    return n;
  }
  // Depth guard for every recursive production.
  struct Deeper {
    Parser* p;
    explicit Deeper(Parser* parser) : p(parser) { ++p->depth_; }
    ~Deeper() { --p->depth_; }
    Deeper(const Deeper&) = delete;
    Deeper& operator=(const Deeper&) = delete;
  };
  Status CheckDepth() const {
    if (depth_ > limits_.max_depth)
      return Status::Invalid("nested deeper than " + std::to_string(limits_.max_depth) +
                             " at offset " + std::to_string(tok_.offset));
    return Status::Ok();
  }

  Status Definition() {
    if (Is("{")) {
      OperationDef op;
      op.type = "query", op.offset = tok_.offset;
      auto set = SelectionSet(&doc_.all_spreads);
      if (!set.ok()) return set.status();
      op.set = *set;
      doc_.operations.push_back(std::move(op));
      return Status::Ok();
    }
    if (IsName("query") || IsName("mutation") || IsName("subscription")) {
      OperationDef op;
      op.type = std::string(tok_.text), op.offset = tok_.offset;
      if (Status s = Advance(); !s.ok()) return s;
      if (tok_.kind == Tok::kName) {
        auto n = Name();
        if (!n.ok()) return n.status();
        op.name = *n;
      }
      if (Is("(")) {
        if (Status s = VariableDefinitions(); !s.ok()) return s;
      }
      if (Status s = Directives(); !s.ok()) return s;
      auto set = SelectionSet(&doc_.all_spreads);
      if (!set.ok()) return set.status();
      op.set = *set;
      doc_.operations.push_back(std::move(op));
      return Status::Ok();
    }
    if (IsName("fragment")) {
      if (Status s = Advance(); !s.ok()) return s;
      if (IsName("on")) return Fail("a fragment name (not 'on')");
      auto n = Name();
      if (!n.ok()) return n.status();
      if (!IsName("on")) return Fail("'on'");
      if (Status s = Advance(); !s.ok()) return s;
      if (auto t = Name(); !t.ok()) return t.status();
      if (doc_.fragments.count(*n)) return Status::Invalid("fragment '" + *n + "' defined twice");
      std::vector<std::string> spreads;
      if (Status s = Directives(); !s.ok()) return s;
      auto set = SelectionSet(&spreads);
      if (!set.ok()) return set.status();
      doc_.fragments[*n] = *set;
      doc_.fragment_spreads[*n] = std::move(spreads);
      return Status::Ok();
    }
    return Fail("an operation or a fragment (only executable definitions are accepted)");
  }

  Status VariableDefinitions() {
    if (Status s = Expect("("); !s.ok()) return s;
    if (Is(")")) return Fail("a variable definition");
    while (!Is(")")) {
      if (Status s = Expect("$"); !s.ok()) return s;
      if (auto n = Name(); !n.ok()) return n.status();
      if (Status s = Expect(":"); !s.ok()) return s;
      if (Status s = Type(); !s.ok()) return s;
      if (Is("=")) {
        if (Status s = Advance(); !s.ok()) return s;
        if (Status s = Value(true); !s.ok()) return s;
      }
      if (Status s = Directives(); !s.ok()) return s;
    }
    return Advance();
  }

  Status Type() {
    Deeper d(this);
    if (Status s = CheckDepth(); !s.ok()) return s;
    if (Is("[")) {
      if (Status s = Advance(); !s.ok()) return s;
      if (Status s = Type(); !s.ok()) return s;
      if (Status s = Expect("]"); !s.ok()) return s;
    } else if (auto n = Name(); !n.ok()) {
      return n.status();
    }
    if (Is("!")) return Advance();
    return Status::Ok();
  }

  Status Value(bool constant) {
    Deeper d(this);
    if (Status s = CheckDepth(); !s.ok()) return s;
    if (Is("$")) {
      if (constant) return Fail("a constant value (no variables here)");
      if (Status s = Advance(); !s.ok()) return s;
      return Name().status();
    }
    if (Is("[")) {
      if (Status s = Advance(); !s.ok()) return s;
      while (!Is("]"))
        if (Status s = Value(constant); !s.ok()) return s;
      return Advance();
    }
    if (Is("{")) {
      if (Status s = Advance(); !s.ok()) return s;
      std::set<std::string> names;
      while (!Is("}")) {
        auto n = Name();
        if (!n.ok()) return n.status();
        if (!names.insert(*n).second)
          return Status::Invalid("object field '" + *n + "' given twice");
        if (Status s = Expect(":"); !s.ok()) return s;
        if (Status s = Value(constant); !s.ok()) return s;
      }
      return Advance();
    }
    switch (tok_.kind) {
      case Tok::kName:  // true, false, null and enum values
      case Tok::kInt:
      case Tok::kFloat:
      case Tok::kString:
      case Tok::kBlockString:
        return Advance();
      default:
        return Fail("a value");
    }
  }

  Status Arguments(bool constant) {
    if (Status s = Expect("("); !s.ok()) return s;
    if (Is(")")) return Fail("an argument");
    std::set<std::string> names;
    while (!Is(")")) {
      auto n = Name();
      if (!n.ok()) return n.status();
      if (!names.insert(*n).second) return Status::Invalid("argument '" + *n + "' given twice");
      if (Status s = Expect(":"); !s.ok()) return s;
      if (Status s = Value(constant); !s.ok()) return s;
    }
    return Advance();
  }

  Status Directives() {
    while (Is("@")) {
      if (Status s = Advance(); !s.ok()) return s;
      if (auto n = Name(); !n.ok()) return n.status();
      if (Is("("))
        if (Status s = Arguments(false); !s.ok()) return s;
    }
    return Status::Ok();
  }

  // Returns the index of the set in doc_.sets.
  Result<int> SelectionSet(std::vector<std::string>* spreads) {
    Deeper d(this);
    if (Status s = CheckDepth(); !s.ok()) return s;
    if (Status s = Expect("{"); !s.ok()) return s;
    if (Is("}")) return Fail("a selection");
    std::vector<Selection> set;
    while (!Is("}")) {
      Selection sel;
      if (Is("...")) {
        if (Status s = Advance(); !s.ok()) return s;
        if (tok_.kind == Tok::kName && tok_.text != "on") {
          sel.kind = Selection::kSpread;
          sel.name = std::string(tok_.text);
          spreads->push_back(sel.name);
          if (Status s = Advance(); !s.ok()) return s;
          if (Status s = Directives(); !s.ok()) return s;
        } else {
          sel.kind = Selection::kInline;
          if (IsName("on")) {
            if (Status s = Advance(); !s.ok()) return s;
            if (auto t = Name(); !t.ok()) return t.status();
          }
          if (Status s = Directives(); !s.ok()) return s;
          auto sub = SelectionSet(spreads);
          if (!sub.ok()) return sub.status();
          sel.set = *sub;
        }
      } else {
        auto n = Name();
        if (!n.ok()) return n.status();
        sel.name = *n;
        if (Is(":")) {  // `alias: field`: the field is what runs
          if (Status s = Advance(); !s.ok()) return s;
          auto real = Name();
          if (!real.ok()) return real.status();
          sel.name = *real;
        }
        if (Is("("))
          if (Status s = Arguments(false); !s.ok()) return s;
        if (Status s = Directives(); !s.ok()) return s;
        if (Is("{")) {
          // Sub-selections do not change the root fields; they are parsed
          // (and their spreads recorded) so the whole document is checked.
          auto sub = SelectionSet(spreads);
          if (!sub.ok()) return sub.status();
        }
      }
      set.push_back(std::move(sel));
    }
    if (Status s = Advance(); !s.ok()) return s;
    doc_.sets.push_back(std::move(set));
    return static_cast<int>(doc_.sets.size() - 1);
  }

  Lexer lex_;
  Limits limits_;
  Token tok_;
  int depth_ = 0;
  Document doc_;
};

// Spreads name defined fragments, and fragments do not spread themselves
// through any chain (Kahn's algorithm: what is left over lies on a cycle).
Status CheckFragments(const Document& doc) {
  for (const auto& n : doc.all_spreads)
    if (!doc.fragments.count(n)) return Status::Invalid("spread of unknown fragment '" + n + "'");
  std::map<std::string, size_t> indegree;
  for (const auto& [name, spreads] : doc.fragment_spreads) {
    indegree.try_emplace(name, 0);
    for (const auto& n : spreads) {
      if (!doc.fragments.count(n)) return Status::Invalid("spread of unknown fragment '" + n + "'");
      ++indegree[n];
    }
  }
  std::vector<std::string> ready;
  for (const auto& [name, d] : indegree)
    if (d == 0) ready.push_back(name);
  size_t done = 0;
  while (!ready.empty()) {
    std::string n = std::move(ready.back());
    ready.pop_back();
    ++done;
    for (const auto& m : doc.fragment_spreads.at(n))
      if (--indegree[m] == 0) ready.push_back(m);
  }
  if (done != indegree.size()) return Status::Invalid("fragments spread each other in a cycle");
  return Status::Ok();
}

// Root fields of a selection set, through inline fragments and fragment
// spreads, without recursion (a worklist): the depth a document can nest
// fragments to is not the stack's business.
std::vector<std::string> RootFields(const Document& doc, int root) {
  std::set<std::string> fields;
  std::set<std::string> seen_fragments;
  std::vector<int> work = {root};
  while (!work.empty()) {
    int set = work.back();
    work.pop_back();
    for (const auto& sel : doc.sets[static_cast<size_t>(set)]) {
      if (sel.kind == Selection::kField) {
        fields.insert(sel.name);
      } else if (sel.kind == Selection::kInline) {
        work.push_back(sel.set);
      } else if (seen_fragments.insert(sel.name).second) {
        work.push_back(doc.fragments.at(sel.name));
      }
    }
  }
  return {fields.begin(), fields.end()};
}

// ---- Requests ----

bool IsBlank(std::string_view s) {
  return s.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

// JSON (bodies, `extensions`, WebSocket messages) through the strict
// parser (l7/json.h): duplicate keys, bad UTF-8 and deep nesting refused,
// so the proxy and the server cannot read one body two ways.
std::string PersistedHash(const JsonValue* ext) {
  const JsonValue* pq = ext ? ext->Find("persistedQuery") : nullptr;
  const JsonValue* h = pq ? pq->Find("sha256Hash") : nullptr;
  return h && h->is_string() ? h->text() : "";
}

// One request envelope: a document and an operation name, or a persisted
// query's hash or id.
Status Envelope(const std::string* query, const std::string& operation_name,
                const std::string& hash, const std::string& id, Request* out) {
  Operation op;
  if (query && !IsBlank(*query)) {
    auto c = ClassifyDocument(*query, operation_name);
    if (!c.ok()) return c.status();
    op = std::move(*c);
    if (!hash.empty() || !id.empty())
      op.persisted = true, op.persisted_key = hash.empty() ? id : hash;
  } else if (!hash.empty() || !id.empty()) {
    op.persisted = true;
    op.persisted_key = hash.empty() ? id : hash;
    op.name = operation_name;
  } else {
    return Status::Invalid("no query document and no persisted query id");
  }
  out->operations.push_back(std::move(op));
  return Status::Ok();
}

Status JsonEnvelope(const JsonValue& v, Request* out) {
  if (!v.is_object()) return Status::Invalid("a GraphQL request must be a JSON object");
  std::string query, name, id;
  const std::string* query_ptr = nullptr;
  for (const auto& [key, val] : v.members()) {
    if (key == "query") {
      if (val.is_null()) continue;
      if (!val.is_string()) return Status::Invalid("\"query\" is not a string");
      query = val.text(), query_ptr = &query;
    } else if (key == "operationName") {
      if (val.is_null()) continue;
      if (!val.is_string()) return Status::Invalid("\"operationName\" is not a string");
      name = val.text();
    } else if (key == "id" || key == "documentId" || key == "queryId") {
      if (val.is_null()) continue;
      if (!val.is_string()) return Status::Invalid("\"" + key + "\" is not a string");
      if (!id.empty()) return Status::Invalid("several persisted query ids");
      id = val.text();
    }
  }
  return Envelope(query_ptr, name, PersistedHash(v.Find("extensions")), id, out);
}

Request Failed(std::string why) {
  Request r;
  r.error = std::move(why);
  return r;
}

constexpr std::string_view kUrlParams[] = {"query", "operationName", "extensions", "variables",
                                           "id",    "documentId",    "queryId"};

Request ClassifyGet(const Target& t) {
  std::map<std::string, std::string> got;
  for (const auto& p : t.query) {
    for (auto name : kUrlParams) {
      if (p.name != name) continue;
      if (!got.emplace(p.name, p.value).second)
        return Failed("GET parameter \"" + p.name + "\" given more than once");
    }
  }
  auto get = [&](const char* k) {
    auto it = got.find(k);
    return it == got.end() ? std::string() : it->second;
  };
  std::string id;
  for (const char* k : {"id", "documentId", "queryId"}) {
    std::string v = get(k);
    if (v.empty()) continue;
    if (!id.empty()) return Failed("several persisted query ids");
    id = v;
  }
  std::string hash;
  if (std::string ext = get("extensions"); !ext.empty()) {
    auto j = ParseJson(ext);
    if (!j.ok()) return Failed("extensions: " + j.status().reason());
    hash = PersistedHash(&*j);
  }
  Request r;
  std::string query = get("query");
  if (Status s =
          Envelope(got.count("query") ? &query : nullptr, get("operationName"), hash, id, &r);
      !s.ok())
    return Failed(s.reason());
  return r;
}

std::string_view Trim(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

// The value of field `name` in an HTTP head (the last when several; *count
// says how many).
std::string HeadField(std::string_view head, std::string_view name, int* count) {
  std::string value;
  *count = 0;
  size_t eol = head.find("\r\n");
  while (eol != std::string_view::npos) {
    head.remove_prefix(eol + 2);
    eol = head.find("\r\n");
    std::string_view line = head.substr(0, eol);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || !AsciiIEquals(line.substr(0, colon), name)) continue;
    ++*count;
    value = std::string(Trim(line.substr(colon + 1)));
  }
  return value;
}

std::string MediaType(std::string_view content_type) {
  std::string_view m = content_type.substr(0, content_type.find(';'));
  while (!m.empty() && (m.back() == ' ' || m.back() == '\t')) m.remove_suffix(1);
  while (!m.empty() && (m.front() == ' ' || m.front() == '\t')) m.remove_prefix(1);
  return AsciiLowered(m);
}

bool TypeMatches(const GraphqlRule& r, const Operation& op) {
  return r.operation_type == "*" || AsciiIEquals(r.operation_type, op.type);
}
bool NameMatches(const GraphqlRule& r, const Operation& op) {
  return r.operation_name.empty() || GlobMatch(r.operation_name, op.name);
}
bool AnyGlob(const std::vector<std::string>& globs, std::string_view s) {
  for (const auto& g : globs)
    if (GlobMatch(g, s)) return true;
  return false;
}
// Allow: every root field matches one of the globs (one safe field beside
// an unlisted one does not carry it).
bool AllowMatches(const GraphqlRule& r, const Operation& op) {
  if (!TypeMatches(r, op) || !NameMatches(r, op)) return false;
  if (r.fields.empty()) return true;
  if (op.fields.empty()) return false;
  for (const auto& f : op.fields)
    if (!AnyGlob(r.fields, f)) return false;
  return true;
}
// Deny: any root field matches.
bool DenyMatches(const GraphqlRule& r, const Operation& op) {
  if (!TypeMatches(r, op) || !NameMatches(r, op)) return false;
  if (r.fields.empty()) return true;
  for (const auto& f : op.fields)
    if (AnyGlob(r.fields, f)) return true;
  return false;
}

// The allow set of an access preset, as GraphQL rules.
std::vector<GraphqlRule> PresetRules(Access a) {
  auto rule = [](const char* type) {
    GraphqlRule r;
    r.operation_type = type;
    return r;
  };
  switch (a) {
    case Access::kReadOnly:
      return {rule("query")};
    case Access::kReadWrite:
      return {rule("query"), rule("mutation")};
    case Access::kFull:
      return {rule("*")};
    case Access::kNone:
      break;
  }
  return {};
}

std::string OperationText(const Operation& op) {
  std::string s = op.type.empty() ? "persisted query" : op.type;
  if (!op.name.empty()) s += " " + op.name;
  if (!op.fields.empty()) {
    s += " {";
    for (size_t i = 0; i < op.fields.size(); ++i) s += (i ? ", " : " ") + op.fields[i];
    s += " }";
  }
  return s;
}

std::string HintFor(const Operation& op) {
  std::string h = "rules: [{allow: {operation_type: " + op.type;
  if (!op.name.empty()) h += ", operation_name: " + op.name;
  if (!op.fields.empty()) {
    h += ", fields: [";
    for (size_t i = 0; i < op.fields.size(); ++i) h += (i ? ", " : "") + op.fields[i];
    h += "]";
  }
  return h + "}}]";
}

}  // namespace

Result<Operation> ClassifyDocument(std::string_view document, std::string_view operation_name,
                                   const Limits& limits) {
  if (document.size() > limits.max_document)
    return Status::Invalid("document larger than " + std::to_string(limits.max_document) +
                           " bytes");
  auto parsed = Parser(document, limits).Parse();
  if (!parsed.ok()) return parsed.status().With("GraphQL document");
  const Document& doc = *parsed;
  if (doc.operations.empty()) return Status::Invalid("GraphQL document has no operation");
  std::set<std::string> names;
  bool anonymous = false;
  for (const auto& op : doc.operations) {
    if (op.name.empty()) {
      anonymous = true;
    } else if (!names.insert(op.name).second) {
      return Status::Invalid("GraphQL operation '" + op.name + "' defined twice");
    }
  }
  if (anonymous && doc.operations.size() > 1)
    return Status::Invalid("an anonymous GraphQL operation beside other operations");
  if (Status s = CheckFragments(doc); !s.ok()) return s.With("GraphQL document");
  const OperationDef* selected = nullptr;
  if (!operation_name.empty()) {
    for (const auto& op : doc.operations)
      if (op.name == operation_name) selected = &op;
    if (!selected)
      return Status::Invalid("GraphQL operationName '" + std::string(operation_name) +
                             "' is not in the document");
  } else if (doc.operations.size() == 1) {
    selected = &doc.operations[0];
  } else {
    return Status::Invalid("GraphQL document has several operations and no operationName");
  }
  Operation out;
  out.type = selected->type;
  out.name = selected->name;
  out.fields = RootFields(doc, selected->set);
  return out;
}

Request ClassifyHttp(std::string_view method, const Target& target, std::string_view head,
                     std::string_view body) {
  int n_type = 0, n_encoding = 0;
  std::string content_type = HeadField(head, "content-type", &n_type);
  std::string encoding = HeadField(head, "content-encoding", &n_encoding);
  if (n_type > 1) return Failed("several Content-Type fields");
  if (n_encoding > 1 || (n_encoding == 1 && !AsciiIEquals(encoding, "identity")))
    return Failed("an encoded body (Content-Encoding) cannot be inspected");
  if (AsciiIEquals(method, "GET")) {
    if (!body.empty()) return Failed("a GET request with a body");
    return ClassifyGet(target);
  }
  if (!AsciiIEquals(method, "POST"))
    return Failed("GraphQL over HTTP is GET or POST, not " + std::string(method));
  // Parameters in the URL of a POST: servers differ on whether the URL or
  // the body wins, so a request carrying both is not judged at all.
  for (const auto& p : target.query)
    for (auto name : kUrlParams)
      if (p.name == name)
        return Failed("GraphQL parameter \"" + p.name + "\" in the URL of a POST request");
  if (body.empty()) return Failed("an empty POST body");
  std::string media = MediaType(content_type);
  if (media == "application/graphql") {
    Request r;
    std::string doc(body);
    if (Status s = Envelope(&doc, "", "", "", &r); !s.ok()) return Failed(s.reason());
    return r;
  }
  if (media != "application/json" && media != "application/graphql-response+json" &&
      media != "application/graphql+json")
    return Failed("POST Content-Type must be application/json or application/graphql, not '" +
                  std::string(content_type) + "'");
  auto j = ParseJson(body);
  if (!j.ok()) return Failed("POST body: " + j.status().reason());
  Request r;
  if (j->is_array()) {
    if (j->items().empty()) return Failed("an empty batch");
    for (const auto& item : j->items())
      if (Status s = JsonEnvelope(item, &r); !s.ok()) return Failed(s.reason());
    return r;
  }
  if (Status s = JsonEnvelope(*j, &r); !s.ok()) return Failed(s.reason());
  return r;
}

Request ClassifyWebSocketMessage(std::string_view text, bool* control, std::string* type) {
  *control = false;
  type->clear();
  auto j = ParseJson(text);
  if (!j.ok()) return Failed("WebSocket message: " + j.status().reason());
  if (!j->is_object()) return Failed("WebSocket message is not a JSON object");
  const JsonValue* t = j->Find("type");
  if (!t || !t->is_string()) return Failed("WebSocket message without a string type");
  *type = t->text();
  for (std::string_view c :
       {"connection_init", "connection_terminate", "ping", "pong", "complete", "stop"}) {
    if (*type == c) {
      *control = true;
      return {};
    }
  }
  if (*type != "subscribe" && *type != "start")
    return Failed("unknown GraphQL WebSocket message type '" + *type + "'");
  const JsonValue* id = j->Find("id");
  if (!id || !id->is_string() || id->text().empty())
    return Failed("a " + *type + " message without an id");
  const JsonValue* payload = j->Find("payload");
  if (!payload || !payload->is_object())
    return Failed("a " + *type + " message without an object payload");
  Request r;
  if (Status s = JsonEnvelope(*payload, &r); !s.ok()) return Failed(s.reason());
  return r;
}

Verdict Evaluate(const EndpointRules& e, const Request& req) {
  Verdict v;
  if (!req.error.empty() || req.operations.empty()) {
    // Not classified: refused even in audit mode, as OpenShell does; a
    // request the proxy cannot read is never passed on as "would deny".
    v.rule = "graphql";
    v.reason = "GraphQL request refused: " + (req.error.empty() ? "no operation" : req.error);
    return v;
  }
  // Hash-only persisted queries stand for their registered operation.
  std::vector<Operation> effective;
  for (const auto& op : req.operations) {
    if (!op.type.empty()) {
      effective.push_back(op);
      continue;
    }
    const PersistedQuery* found = nullptr;
    if (e.persisted_allow_registered)
      for (const auto& p : e.persisted)
        if (p.key == op.persisted_key) found = &p;
    if (!found) {
      v.rule = "persisted_queries";
      v.reason = "GraphQL persisted query is not registered";
      v.hint =
          e.persisted_allow_registered
              ? "graphql_persisted_queries: {\"" + op.persisted_key + "\": {operation_type: ...}}"
              : "persisted_queries: allow_registered, with graphql_persisted_queries";
      break;
    }
    Operation r;
    r.type = found->operation.operation_type;
    r.name = found->operation.operation_name;
    r.fields = found->operation.fields;
    r.persisted = true;
    r.persisted_key = op.persisted_key;
    effective.push_back(std::move(r));
  }
  if (v.reason.empty()) {
    for (const auto& d : e.graphql_deny) {
      if (!v.reason.empty()) break;
      for (const auto& op : effective) {
        if (DenyMatches(d, op)) {
          v.rule = "deny_rules[" + std::to_string(d.index) + "]";
          v.reason = "GraphQL " + OperationText(op) + " refused by " + v.rule;
          break;
        }
      }
    }
  }
  if (v.reason.empty()) {
    std::vector<GraphqlRule> preset = PresetRules(e.access);
    const std::vector<GraphqlRule>& allow = e.access != Access::kNone ? preset : e.graphql_allow;
    std::string first_rule;
    for (const auto& op : effective) {
      bool ok = false;
      for (size_t i = 0; i < allow.size() && !ok; ++i) {
        if (!AllowMatches(allow[i], op)) continue;
        ok = true;
        if (first_rule.empty())
          first_rule = e.access != Access::kNone ? "access: " + AccessName(e.access)
                                                 : "rules[" + std::to_string(allow[i].index) + "]";
      }
      if (!ok) {
        v.rule = e.access != Access::kNone ? "access: " + AccessName(e.access) : "rules";
        v.reason = "no rule allows GraphQL " + OperationText(op);
        v.hint = HintFor(op);
        break;
      }
    }
    if (v.reason.empty()) {
      v.allowed = true;
      v.rule = first_rule;
      return v;
    }
  }
  if (e.audit_only && v.rule != "graphql") {
    v.allowed = true;
    v.would_deny = true;
  }
  return v;
}

std::string Summary(const Request& r) {
  if (!r.error.empty()) return "error: " + r.error;
  std::string s;
  for (const auto& op : r.operations) {
    if (!s.empty()) s += "; ";
    s += "type=" + (op.type.empty() ? std::string("-") : op.type);
    s += " name=" + (op.name.empty() ? std::string("-") : op.name);
    s += " fields=";
    if (op.fields.empty()) s += "-";
    for (size_t i = 0; i < op.fields.size(); ++i) s += (i ? "," : "") + op.fields[i];
    if (op.persisted) s += " persisted=" + op.persisted_key;
  }
  return s;
}

}  // namespace rf::l7::graphql
