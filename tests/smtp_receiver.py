"""An aiosmtpd handler that writes every message it accepts to a folder, one file each.

Run:  PYTHONPATH=tests python3 -m aiosmtpd -n -l 127.0.0.1:PORT -c smtp_receiver.Receiver DIR
Each accepted DATA becomes DIR/<n>-<pid>.eml (written to a temporary name, then renamed, so a
reader never sees half a file), with the envelope on two first lines:
    X-Envelope-From: <addr>
    X-Envelope-To: <addr>[, <addr>...]
followed by the message exactly as received. Raw re-deliveries are kept: deduplicating by
Message-ID, as mailbox providers do, is the reader's business.

Recipients whose local part starts with "reject5" get 550, "reject4" get 451 (for tests).
The EHLO reply advertises PIPELINING (aiosmtpd reads commands as they arrive, so a client may
send MAIL, RCPT and DATA at once), so that a pipelining client (messaging/smtp_session.h) does so
here as it does with real servers.
"""
import itertools
import os


class Receiver:
    def __init__(self, folder):
        self.folder = folder
        os.makedirs(folder, exist_ok=True)
        self.counter = itertools.count(1)

    @classmethod
    def from_cli(cls, parser, *args):
        if len(args) != 1:
            parser.error("smtp_receiver.Receiver takes one argument: the folder")
        return cls(args[0])

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        return responses[:-1] + ["250-PIPELINING", responses[-1]]

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0]
        if local.startswith("reject5"):
            return "550 5.1.1 No such user here"
        if local.startswith("reject4"):
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        n = next(self.counter)
        name = "%08d-%d.eml" % (n, os.getpid())
        tmp = os.path.join(self.folder, "." + name + ".tmp")
        data = envelope.original_content or envelope.content
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        with open(tmp, "wb") as f:
            f.write(b"X-Envelope-From: " + envelope.mail_from.encode() + b"\r\n")
            f.write(b"X-Envelope-To: " + ", ".join(envelope.rcpt_tos).encode() + b"\r\n")
            f.write(data)
        os.rename(tmp, os.path.join(self.folder, name))
        return "250 2.0.0 Ok: queued as %d" % n
