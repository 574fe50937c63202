#include "messaging/log_channel.h"

#include <atomic>

#include "base/log.h"

namespace regulars::messaging {
namespace {

class LogChannel final : public Channel {
 public:
  LogChannel(Id id, std::optional<SendOutcome::Kind> fail) : id_(id), fail_(fail) {}
  ChannelKind kind() const override { return ChannelKind::kLog; }
  SendOutcome Send(const Envelope& e) override {
    SendOutcome out;
    if (fail_) {
      out.kind = *fail_;
      out.error = "log channel configured to fail";
      return out;
    }
    spdlog::info("message channel={} message_id={} to={} subject='{}' text='{}'", id_, e.message_id,
                 e.to, e.subject, e.text);
    out.provider_id = "log-" + std::to_string(e.message_id);
    return out;
  }

 private:
  Id id_;
  std::optional<SendOutcome::Kind> fail_;
};

}  // namespace

Result<std::unique_ptr<Channel>> MakeLogChannel(const ChannelConfig& c) {
  std::optional<SendOutcome::Kind> fail;
  if (auto it = c.settings.find("fail"); it != c.settings.end()) {
    if (*it == "temporary")
      fail = SendOutcome::Kind::kTemporary;
    else if (*it == "permanent")
      fail = SendOutcome::Kind::kPermanent;
    else
      return InvalidField("settings.fail", "must be \"temporary\" or \"permanent\"");
  }
  return std::unique_ptr<Channel>(new LogChannel(c.id, fail));
}

}  // namespace regulars::messaging
