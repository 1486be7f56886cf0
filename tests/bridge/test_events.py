"""The event stream: WebSocket and Server-Sent Events over loopback, tickets, resuming from the last event id."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from paycode.bridge.events import CLOSED, EventHub
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from tests.bridge.helpers import TOKEN, Running, wechat

Serve = Callable[..., Running]


def ws_url(run: Running, **params: str) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return run.url.replace("http://", "ws://") + "/v1/events" + (f"?{query}" if query else "")


def receive_until(
    ws: ClientConnection, wanted: Callable[[dict[str, Any]], bool], timeout: float = 15.0
) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        event = json.loads(ws.recv(timeout=end - time.monotonic()))
        seen.append(event)
        if wanted(event):
            return seen
    raise AssertionError(f"not seen; got {[e['event'] for e in seen]}")


def final_update(reference: str) -> Callable[[dict[str, Any]], bool]:
    return lambda e: e["event"] == "payment.updated" and e["order"] == reference and e["payment"]["final"]


def test_a_websocket_with_a_ticket_sees_every_step_of_a_payment(serve: Serve) -> None:
    run = serve()
    with connect(ws_url(run, ticket=run.ticket())) as ws:
        assert run.pay(code=wechat("003"), reference="ws-1").status_code == 202
        seen = receive_until(ws, final_update("ws-1"))
    kinds = [e["event"] for e in seen if e["order"] == "ws-1"]
    for kind in ("scan", "classified", "payment.request", "payment.state", "payment.poll", "payment.updated"):
        assert kind in kinds, kinds
    assert seen[-1]["payment"]["state"] == "paid"
    assert all(e["lane"] == "lane-1" for e in seen if e["event"] != "payment.updated" or e["lane"])
    ids = [int(e["id"].rsplit("-", 1)[1]) for e in seen]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert wechat("003") not in json.dumps(seen)  # codes only masked
    assert any(e.get("code") == "1300**********0003" for e in seen)


def test_the_websocket_refuses_without_a_ticket_or_with_a_used_one(serve: Serve) -> None:
    run = serve()
    with pytest.raises(InvalidStatus) as refused:
        connect(ws_url(run))
    assert refused.value.response.status_code == 403
    ticket = run.ticket()
    with connect(ws_url(run, ticket=ticket)):
        pass
    with pytest.raises(InvalidStatus):
        connect(ws_url(run, ticket=ticket))
    with connect(ws_url(run), additional_headers={"Authorization": f"Bearer {TOKEN}"}):
        pass  # programs may use the token itself
    with pytest.raises(InvalidStatus) as foreign:
        connect(ws_url(run, ticket=run.ticket()), origin="http://evil.example")  # type: ignore[arg-type]
    assert foreign.value.response.status_code == 403


def test_a_websocket_resumes_after_the_last_event_id(serve: Serve) -> None:
    run = serve()
    with connect(ws_url(run, ticket=run.ticket())) as ws:
        assert run.pay(code=wechat("001"), reference="r-1").status_code == 202
        first = receive_until(ws, final_update("r-1"))
    last = first[-1]["id"]
    # events happen while no one listens
    assert run.pay(code=wechat("002"), reference="r-2").status_code == 202
    run.wait_state("r-2")
    with connect(ws_url(run, ticket=run.ticket(), last_event_id=last)) as ws:
        missed = receive_until(ws, final_update("r-2"))
    assert missed[0]["event"] != "stream.reset"
    assert int(missed[0]["id"].rsplit("-", 1)[1]) == int(last.rsplit("-", 1)[1]) + 1
    assert {e["order"] for e in missed} == {"r-2"}
    assert missed[-1]["payment"]["state"] == "declined"
    # an id of another run of the bridge: reset, then what is buffered
    with connect(ws_url(run, ticket=run.ticket(), last_event_id="00000000-5")) as ws:
        replay = receive_until(ws, final_update("r-2"))
    assert replay[0]["event"] == "stream.reset" and replay[0]["id"] is None
    assert any(e["order"] == "r-1" for e in replay)


def test_server_sent_events_resume_with_last_event_id(serve: Serve) -> None:
    run = serve()
    assert run.pay(code=wechat("001"), reference="s-1").status_code == 202
    run.wait_state("s-1")
    events = run.bridge.hub.events()
    middle = events[len(events) // 2]
    headers = {"Accept": "text/event-stream", "Last-Event-ID": str(middle.id)}
    received: list[tuple[str | None, dict[str, Any]]] = []
    with run.http.stream("GET", "/v1/events", headers=headers) as answer:
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/event-stream")
        event_id: str | None = None
        for line in answer.iter_lines():
            if line.startswith("id: "):
                event_id = line[4:]
            elif line.startswith("data: "):
                received.append((event_id, json.loads(line[6:])))
                event_id = None
                if received[-1][0] == events[-1].id:
                    break
    assert [i for i, _ in received] == [e.id for e in events if e.seq > middle.seq]
    assert all(data["id"] == i for i, data in received)


def test_a_bridge_stopping_ends_the_streams(serve: Serve) -> None:
    run = serve()
    with connect(ws_url(run, ticket=run.ticket())) as ws:
        run.server.stop()
        with pytest.raises(ConnectionClosed):  # a TimeoutError here would mean the stream never ended
            while True:
                ws.recv(timeout=10)
        assert ws.close_code in (1001, 1012)
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{run.url}/healthz", timeout=2)


# ---------------------------------------------------------------------------- the hub itself


@given(st.integers(min_value=1, max_value=40), st.integers(min_value=0, max_value=45))
def test_the_hub_replays_exactly_what_came_after_an_id(published: int, after: int) -> None:
    import asyncio

    async def scenario() -> None:
        hub = EventHub(capacity=16, boot="b00t")
        for n in range(published):
            hub.publish({"event": "x", "n": n})
        sub = hub.subscribe(f"b00t-{after}")
        texts = [e.data for e in sub.backlog]
        first_kept = max(published - 16, 0) + 1
        if after > published:
            assert texts[0]["event"] == "stream.reset"
        elif after + 1 < first_kept:
            assert texts[0]["event"] == "stream.gap"
            assert [t["n"] for t in texts[1:]] == list(range(first_kept - 1, published))
        else:
            assert [t["n"] for t in texts] == list(range(after, published))
        hub.publish({"event": "y"})
        assert (await sub.next()).data["event"] == "y"
        hub.close()
        assert await sub.next() is CLOSED

    asyncio.run(scenario())


def test_the_websocket_checks_the_host_and_the_message_size(serve: Serve) -> None:
    run = serve()
    rebound = ws_url(run, ticket=run.ticket()).replace("127.0.0.1", "evil.example")  # a name resolving to us
    with socket.create_connection(("127.0.0.1", run.server.port)) as sock, pytest.raises(InvalidStatus) as foreign:
        connect(rebound, sock=sock)
    assert foreign.value.response.status_code == 403
    with connect(ws_url(run, ticket=run.ticket()), max_size=None) as ws:
        ws.send("x" * (65 * 1024))  # clients have nothing to say; a large message closes the socket
        with pytest.raises(ConnectionClosed):
            while True:
                ws.recv(timeout=10)
        assert ws.close_code == 1009
