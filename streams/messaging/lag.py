"""How far a consumer group is behind on a topic: end offsets minus committed offsets."""

from __future__ import annotations

import logging

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from streams.config.settings import Settings
from streams.messaging.kafka import new_reader

log = logging.getLogger(__name__)


class GroupLag:
    """Messages on ``topic`` that ``group_id`` has not consumed yet (all partitions)."""

    def __init__(self, settings: Settings, group_id: str, topic: str, role: str) -> None:
        self.group_id = group_id
        self.topic = topic
        self.admin = AIOKafkaAdminClient(
            bootstrap_servers=settings.kafka_bootstrap,
            client_id=f"{settings.kafka.client_id}-{role}-admin",
        )
        self.offsets = new_reader(settings, f"{role}-offsets")

    async def start(self) -> None:
        await self.admin.start()
        await self.offsets.start()
        await self.offsets.topics()  # cluster metadata, so the topic's partitions are known

    async def stop(self) -> None:
        await self.offsets.stop()
        await self.admin.close()

    async def measure(self) -> int:
        """The lag now; 0 (with a warning) when Kafka cannot tell."""
        try:
            committed = await self.admin.list_consumer_group_offsets(self.group_id)
            partitions = [
                TopicPartition(self.topic, p)
                for p in self.offsets.partitions_for_topic(self.topic) or ()
            ]
            ends = await self.offsets.end_offsets(partitions) if partitions else {}
        except KafkaError as exc:
            log.warning("cannot measure the lag of %s: %s", self.group_id, exc)
            return 0
        return sum(
            max(0, end - (committed[tp].offset if tp in committed else 0))
            for tp, end in ends.items()
        )
