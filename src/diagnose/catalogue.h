// Known GPU/sandbox failures (`ringfence diagnose`): a catalogue, kept as
// data in catalogue.cc, mapping error texts to a cause and numbered recovery
// steps. Patterns are ECMAScript regular expressions matched
// case-insensitively against each line of the input.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace rf {

struct RecoveryStep {
  std::string text;
  std::string command;  // may be empty
};

struct KnownFailure {
  std::string id;
  std::string summary;
  std::string explanation;
  std::vector<std::string> patterns;
  std::vector<RecoveryStep> steps;
  bool retry_helps = false;
  std::string retry_note;
  // A broad entry (a bare "Permission denied"): reported only when no other
  // entry matched, since a specific cause explains the same line better.
  bool only_alone = false;
};

// The whole catalogue, in match-priority order.
const std::vector<KnownFailure>& FailureCatalogue();

struct Diagnosis {
  const KnownFailure* failure;
  size_t pattern_index;  // which of failure->patterns matched first
  size_t line;           // 1-based line of the first match
  std::string evidence;  // that line (trimmed, at most 300 characters)
  // Extra steps derived from the text (e.g. the policy entry to add for a
  // host that ringfence's proxy refused).
  std::vector<RecoveryStep> extra_steps;
};

// Every catalogue entry that matches somewhere in `text`, in order of first
// appearance; each entry at most once.
std::vector<Diagnosis> Diagnose(std::string_view text);

// Human-readable report; `diagnoses` empty gives the generic answer.
std::string FormatDiagnoses(const std::vector<Diagnosis>& diagnoses);
nlohmann::json DiagnosesToJson(const std::vector<Diagnosis>& diagnoses);

}  // namespace rf
