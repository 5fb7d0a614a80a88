"""Reproduce the embedded broker's (Tansu 0.6.0) offset and group defects, next to what
Apache Kafka answers. cutstream works around them (docs/architecture.md); this shows them.

1. High watermark: after one produce request carrying N records, ListOffsets(latest) grows
   by 1, not N — lag computed from it is wrong (goes negative once consumers commit).
2. DescribeGroups: a live group with a member comes back without protocol or assignment.
3. OffsetFetch for a group through the admin API.

Run: ``python -m bench.tansu_quirks`` (starts its own embedded stack; ~20 s).
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from streams.config.settings import Settings
from streams.stack import EmbeddedStack, ensure_topics
from streams.stack.servers import free_port

TOPIC = "quirks"
RECORDS = 10


async def high_watermark(settings: Settings) -> tuple[int, int]:
    """(records produced in one request, growth of the end offset)."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    reader = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=None)
    await producer.start()
    await reader.start()
    try:
        partition = TopicPartition(TOPIC, 0)
        before = (await reader.end_offsets([partition]))[partition]
        batch = producer.create_batch()
        for index in range(RECORDS):
            batch.append(key=None, value=f"record-{index}".encode(), timestamp=None)
        await (await producer.send_batch(batch, TOPIC, partition=0))
        after = (await reader.end_offsets([partition]))[partition]
        return RECORDS, after - before
    finally:
        await producer.stop()
        await reader.stop()


async def group_description(settings: Settings) -> tuple[str, str]:
    """What DescribeGroups and OffsetFetch say of a live group with one member."""
    member = AIOKafkaConsumer(TOPIC, bootstrap_servers=settings.kafka_bootstrap, group_id="quirks")
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await member.start()
    await admin.start()
    try:
        await member.getmany(timeout_ms=3000)  # join and get an assignment
        described = await admin.describe_consumer_groups(["quirks"])
        try:
            offsets: object = await admin.list_consumer_group_offsets("quirks")
        except KafkaError as exc:  # aiokafka cannot parse the answer (it logs a traceback)
            offsets = f"{type(exc).__name__}: {exc}"
        (response,) = described
        (group,) = response.groups
        members = [(m[0], m[-2], m[-1]) for m in group[5]]
        description = (
            f"the member holds partitions {sorted(tp.partition for tp in member.assignment())}; "
            f"DescribeGroups says protocol={group[4]!r}, (member, metadata, assignment)="
            f"{members}"
        )
        return description, str(offsets)
    finally:
        await member.stop()
        await admin.close()


async def main() -> None:
    with tempfile.TemporaryDirectory() as state:
        settings = Settings(
            state_dir=Path(state),
            stack={"kafka_port": free_port(), "s3_port": free_port()},
            topics={"partitions": 1},
        )
        stack = EmbeddedStack(settings)
        await stack.start()
        try:
            await ensure_topics(settings, [TOPIC])
            produced, grown = await high_watermark(settings)
            print(f"1. one produce request of {produced} records: end offset grew by {grown}")
            description, offsets = await group_description(settings)
            print(f"2. {description}")
            print(f"3. OffsetFetch through the admin client: {offsets}")
        finally:
            stack.stop()


if __name__ == "__main__":
    asyncio.run(main())
