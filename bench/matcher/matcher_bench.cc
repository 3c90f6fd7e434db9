// Policy matcher cost with 10, 1,000 and 100,000 host rules (half exact
// hosts, half `*.` wildcards): ns per decision for a hit on an exact host, a
// hit on a wildcard and a miss. The cost must not grow with the rule count.
#include <benchmark/benchmark.h>

#include <string>

#include "proxy/matcher.h"

namespace {

std::vector<rf::NetworkPolicy> Policies(int n) {
  rf::NetworkPolicy p;
  p.key = p.name = "bench";
  for (int i = 0; i < n; ++i) {
    rf::Endpoint e;
    e.host = (i % 2 ? "*.w" : "h") + std::to_string(i) + ".example.com";
    e.ports = {443};
    p.endpoints.push_back(e);
  }
  return {p};
}

void Decide(benchmark::State& state, const char* kind) {
  const int n = static_cast<int>(state.range(0));
  rf::proxy::Matcher m(Policies(n));
  std::string host = std::string(kind) == "exact"      ? "h" + std::to_string(n - 2) + ".example.com"
                     : std::string(kind) == "wildcard" ? "api.w" + std::to_string(n - 1) + ".example.com"
                                                       : "nothere.example.org";
  for (auto _ : state) {
    auto s = m.MatchHostPort(host, 443);
    benchmark::DoNotOptimize(s);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_ExactHit(benchmark::State& s) { Decide(s, "exact"); }
void BM_WildcardHit(benchmark::State& s) { Decide(s, "wildcard"); }
void BM_Miss(benchmark::State& s) { Decide(s, "miss"); }

BENCHMARK(BM_ExactHit)->Arg(10)->Arg(1000)->Arg(100000);
BENCHMARK(BM_WildcardHit)->Arg(10)->Arg(1000)->Arg(100000);
BENCHMARK(BM_Miss)->Arg(10)->Arg(1000)->Arg(100000);

}  // namespace

BENCHMARK_MAIN();
