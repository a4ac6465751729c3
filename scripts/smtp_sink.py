#!/usr/bin/env python3
"""A throwaway SMTP server for cai-auth's SMTP tests (scripts/test-all.sh starts it).

Listens on 127.0.0.1 only, on a free port, with aiosmtpd. Every message it receives is
written to DIR as NNNNNN.json (written to a temporary name, then renamed, so a reader
never sees half a file) holding the envelope, the raw message as received, and what
Python's own e-mail parser makes of it: decoded From/To/Subject headers and the decoded
text body. Prints "127.0.0.1:PORT" on its first line once it accepts connections, then
serves until it gets SIGTERM or SIGINT.

Usage: smtp_sink.py DIR
"""

import email
import email.policy
import itertools
import json
import os
import signal
import socket
import sys
import threading

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, directory):
        self.directory = directory
        self.counter = itertools.count(1)
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        message = email.message_from_bytes(raw, policy=email.policy.default)
        body = message.get_body(preferencelist=("plain",))
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "raw": raw.decode("utf-8", errors="replace"),
            "from": str(message.get("From", "")),
            "to": str(message.get("To", "")),
            "subject": str(message.get("Subject", "")),
            "content_type": message.get_content_type(),
            "charset": message.get_content_charset(),
            "body": body.get_content() if body is not None else None,
        }
        with self.lock:
            n = next(self.counter)
        path = os.path.join(self.directory, "%06d.json" % n)
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            json.dump(record, f, ensure_ascii=False)
        os.replace(path + ".tmp", path)
        return "250 OK"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    directory = sys.argv[1]
    os.makedirs(directory, exist_ok=True)
    port = free_port()
    # decode_data=False keeps the bytes as sent (and advertises 8BITMIME);
    # SMTPUTF8 lets non-ASCII addresses through.
    controller = Controller(
        Sink(directory),
        hostname="127.0.0.1",
        port=port,
        decode_data=False,
        enable_SMTPUTF8=True,
    )
    controller.start()
    print("127.0.0.1:%d" % port, flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
