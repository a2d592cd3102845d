"""``smsframe demo``: log in, show the balance and send one small batch, all on
the embedded simulator."""

from __future__ import annotations

import time

from smsframe.client import SmsClient
from smsframe.simulator import Simulator

ACCOUNT_ID, NAME, PASSWORD = 101, "demo", "demo-password"
PHONES = ["13800138000", "13912345678", "15000000000", "0755-1234567"]
MESSAGE = "【smsframe】您好，这是一条演示短信。"


def run() -> int:
    with Simulator() as simulator:
        simulator.add_account(ACCOUNT_ID, NAME, PASSWORD, balance=1000)
        print(f"simulator: {simulator.url}")
        client = SmsClient(simulator.wsdl_url, ACCOUNT_ID, NAME, PASSWORD)
        print(f"login: account {client.login()}")
        before = client.balance()
        print(f"balance: {before.balance} left, {before.sent} sent, {before.total} recharged")
        result = client.send(MESSAGE, PHONES, timestamp=int(time.time()))
        print(
            f"send: {result.status} ({result.meaning}), batch {result.batch_id}, "
            f"{len(PHONES) - len(result.failed_phones)} accepted, "
            f"failed: {', '.join(result.failed_phones) or 'none'}"
        )
        after = client.balance()
        print(f"balance: {after.balance} left ({before.balance - after.balance} charged)")
        print(simulator.deliveries()[["batch_id", "phone", "received_at"]].to_string(index=False))
    return 0
