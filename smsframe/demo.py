"""``smsframe demo``: log in, show the balance and send one small batch, all on
the embedded simulator."""

from __future__ import annotations

import time

import zeep

from smsframe.simulator import Simulator

ACCOUNT = {"Id": 101, "Name": "demo", "Psw": "demo-password"}
PHONES = ["13800138000", "13912345678", "15000000000", "0755-1234567"]
MESSAGE = "【smsframe】您好，这是一条演示短信。"


def run() -> int:
    with Simulator() as simulator:
        simulator.add_account(ACCOUNT["Id"], ACCOUNT["Name"], ACCOUNT["Psw"], balance=1000)
        print(f"simulator: {simulator.url}")
        service = zeep.Client(simulator.wsdl_url).service
        print(f"login: account {service.UserLogin(**ACCOUNT)}")
        before = service.GetBalance(**ACCOUNT)
        print(f"balance: {before.Balance} left, {before.Sended} sent, {before.Totaled} recharged")
        state = service.SendMessage(
            **ACCOUNT, Message=MESSAGE, Phone=";".join(PHONES), Timestamp=int(time.time())
        )
        failed = [p for p in (state.FailPhone or "").split(";") if p]
        print(
            f"send: state {state.State}, batch {state.Id}, "
            f"{len(PHONES) - len(failed)} accepted, failed: {', '.join(failed) or 'none'}"
        )
        after = service.GetBalance(**ACCOUNT)
        print(f"balance: {after.Balance} left ({before.Balance - after.Balance} charged)")
        print(simulator.deliveries()[["batch_id", "phone", "received_at"]].to_string(index=False))
    return 0
