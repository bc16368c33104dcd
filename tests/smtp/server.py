"""A real SMTP server for the notification tests (aiosmtpd, pinned in .ci/run).

Every message it accepts is written, exactly as received, to a file of its own in the
folder given (`<arrival ns>-<n>.eml`, after two lines naming the envelope's sender and
recipients), and beside it what a mail client would show of it, decoded by Python's email
package (`.json`: to, from, subject, message_id, text, html, content_type). Each file is
renamed into place once complete. It prints "ready" once it listens, and runs until it is
killed.

    python server.py --port 2525 --dir /tmp/mail
"""

import argparse
import email
import email.policy
import json
import os
import sys
import time

from aiosmtpd.controller import Controller


class Keep:
    def __init__(self, folder):
        self.folder = folder
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        name = os.path.join(self.folder, f"{time.time_ns()}-{self.count:05d}.eml")
        with open(name + ".part", "wb") as f:
            f.write(b"X-Envelope-From: " + envelope.mail_from.encode() + b"\r\n")
            f.write(b"X-Envelope-To: " + ", ".join(envelope.rcpt_tos).encode() + b"\r\n")
            f.write(envelope.original_content)
        os.rename(name + ".part", name)
        msg = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        text = msg.get_body(preferencelist=("plain",))
        html = msg.get_body(preferencelist=("html",))
        shown = {
            "envelope_to": envelope.rcpt_tos,
            "to": str(msg["To"]),
            "from": str(msg["From"]),
            "subject": str(msg["Subject"]),
            "message_id": str(msg["Message-ID"]),
            "content_type": msg.get_content_type(),
            "text": text.get_content() if text is not None else None,
            "html": html.get_content() if html is not None else None,
        }
        json_name = name[: -len(".eml")] + ".json"
        with open(json_name + ".part", "w", encoding="utf-8") as f:
            json.dump(shown, f)
        os.rename(json_name + ".part", json_name)
        return "250 Message accepted for delivery"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", required=True)
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    controller = Controller(Keep(args.dir), hostname=args.host, port=args.port)
    controller.start()
    print("ready", flush=True)
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


if __name__ == "__main__":
    sys.exit(main())
