#pragma once

// A channel that writes each message to the log instead of sending it (development). Settings:
// {"fail": "temporary"|"permanent"} makes every send fail that way (for trying retries).

#include "messaging/channel.h"

namespace regulars::messaging {

Result<std::unique_ptr<Channel>> MakeLogChannel(const ChannelConfig& c);

}  // namespace regulars::messaging
