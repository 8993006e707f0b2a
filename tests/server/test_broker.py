"""The embedded broker (amqtt) serves every dial of a fleet that connects at once, as the
demo's dials do at its first start."""

import asyncio

from amqtt.client import MQTTClient

from server.broker import EmbeddedBroker
from tests.support import aio
from tests.support.services import free_port
from tests.support.waiting import scaled

DIALS = 20


def test_dials_connecting_a_few_ms_apart_are_all_served():
    problems, served = aio.run(_connect_dials())
    assert problems == []  # amqtt 0.12 alone: "dictionary changed size during iteration"
    assert served == DIALS


async def _connect_dials() -> tuple[list[str], int]:
    problems = []  # what the loop reports, such as a connection handler that failed

    def report(_loop, context) -> None:
        problems.append(str(context.get("exception") or context["message"]))

    asyncio.get_running_loop().set_exception_handler(report)
    broker = EmbeddedBroker("127.0.0.1", free_port())
    await broker.start()
    ingestor = MQTTClient(client_id="ingestor")
    await ingestor.connect(broker.url)
    await ingestor.subscribe([("signal/#", 1)])
    for i in range(DIALS):  # every dial's config waits for it, retained
        await ingestor.publish(f"signal/d{i}/config", b"{}", qos=1, retain=True)

    async def dial(i: int) -> None:
        await asyncio.sleep(0.002 * i)
        client = MQTTClient(client_id=f"d{i}", config={"auto_reconnect": False})
        await client.connect(broker.url)
        await client.subscribe([(f"signal/d{i}/config", 1)])  # answered once it is served

    dials = [asyncio.create_task(dial(i)) for i in range(DIALS)]
    done, _stuck = await asyncio.wait(dials, timeout=scaled(10))
    await broker.stop()
    return problems, sum(1 for task in done if not task.exception())
