#include "control/session.h"

#include <time.h>
#include <unistd.h>

#include "control/live_policy.h"
#include "policy/loader.h"

namespace rf::control {

namespace {

std::string NowText() {
  time_t now = time(nullptr);
  struct tm tm;
  gmtime_r(&now, &tm);
  char buf[32];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

Result<std::unique_ptr<Session>> Session::Start(const std::string& dir, SessionInfo info,
                                                AuditSink* audit, Apply apply, Denials denials) {
  std::unique_ptr<Session> s(new Session());
  s->info_ = std::move(info);
  s->audit_ = audit;
  s->apply_ = std::move(apply);
  s->denials_ = std::move(denials);
  s->text_ = s->info_.policy_text;
  s->started_ = NowText();
  Session* self = s.get();
  auto server = Server::Start(dir, s->info_.id, [self](const nlohmann::json& r, const Peer& p) {
    return self->Handle(r, p);
  });
  if (!server.ok()) return server.status();
  s->server_ = std::move(*server);
  Server* srv = s->server_.get();
  audit->SetSubscriber([srv](const std::string& line) { srv->Publish(line); });
  return s;
}

Session::~Session() { Stop(); }

void Session::Stop() {
  if (!server_) return;
  audit_->SetSubscriber(nullptr);
  server_->Stop();
}

void Session::SetCommandPid(pid_t pid) {
  std::lock_guard<std::mutex> lock(mu_);
  command_pid_ = pid;
}

void Session::Reload() {
  if (!info_.reloadable) return;
  Result<std::string> text = info_.reload_refusal.empty()
                                 ? ReadPolicyText(info_.policy_file)
                                 : Result<std::string>(Status::Permission(info_.reload_refusal));
  if (!text.ok()) {
    audit_->Emit({"control",
                  "refused",
                  info_.id,
                  "SIGHUP: " + text.status().reason() + "; the running policy stays in force",
                  {{"request", "policy_reload"}, {"sandbox_id", info_.id}}});
    fprintf(stderr, "ringfence: SIGHUP: %s; the running policy stays in force\n",
            text.status().reason().c_str());
    return;
  }
  nlohmann::json r = Change("reload", *text, info_.policy_file, nullptr);
  if (r.value("ok", false))
    fprintf(stderr, "ringfence: SIGHUP: network_policies reloaded from %s\n",
            info_.policy_file.c_str());
  else
    fprintf(stderr, "ringfence: SIGHUP: %s\n", r.value("error", std::string("refused")).c_str());
}

nlohmann::json Session::Change(const std::string& op, const std::string& text,
                               const std::string& source, const Peer* peer) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::string action = "policy_" + op;
  nlohmann::json extra = {{"request", action},
                          {"sandbox_id", info_.id},
                          {"source", source},
                          {"old_sha256", Sha256Hex(text_)}};
  if (peer) extra["peer"] = {{"pid", peer->pid}, {"uid", peer->uid}};
  Result<PlannedPolicy> planned =
      op == "update" ? PlanUpdate(text_, text, source) : PlanSet(text_, text, source);
  Status applied = planned.ok() ? apply_(planned->policy) : planned.status();
  if (!applied.ok()) {
    // Nothing changed: the digest of what was offered, for the record.
    extra["offered_sha256"] = Sha256Hex(text);
    audit_->Emit({"control", "refused", info_.id,
                  action + " refused: " + applied.reason() + "; the running policy stays in force",
                  extra});
    return {{"ok", false}, {"error", applied.reason()}};
  }
  const std::string old_digest = extra["old_sha256"];
  text_ = std::move(planned->text);
  ++changes_;
  extra["new_sha256"] = Sha256Hex(text_);
  extra["network_policies"] = planned->policy.network_policies.size();
  audit_->Emit({"control", action, info_.id,
                "network_policies replaced: new connections and requests use them", extra});
  return {{"ok", true}, {"old_sha256", old_digest}, {"new_sha256", extra["new_sha256"]}};
}

nlohmann::json Session::Handle(const nlohmann::json& request, const Peer& peer) {
  const std::string op = request.value("op", std::string());
  if (op == "info") {
    std::lock_guard<std::mutex> lock(mu_);
    return {{"id", info_.id},
            {"pid", getpid()},
            {"command_pid", command_pid_},
            {"command", info_.command},
            {"mode", info_.mode},
            {"policy_file", info_.policy_file},
            {"started", started_},
            {"denials", denials_ ? denials_() : 0},
            {"policy_sha256", Sha256Hex(text_)},
            {"policy_changes", changes_}};
  }
  if (op == "set" || op == "update") {
    if (!request.contains("policy") || !request["policy"].is_string())
      return {{"ok", false}, {"error", "no policy text in the request"}};
    const std::string source = request.value("source", std::string("(control socket)"));
    return Change(op, request["policy"].get<std::string>(), source, &peer);
  }
  return {{"ok", false}, {"error", "unknown request '" + op + "'"}};
}

}  // namespace rf::control
