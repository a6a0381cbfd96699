"""Size limits of the event contracts, one place for every layer that must agree on them.

Why they exist: a record the worker cannot republish would stop a partition.
The chain, smallest first, leaves room at every step:

- a field app may publish a ``HouseholdSubmission`` of at most
  :data:`MAX_SUBMISSION_BYTES` (Avro body plus the 5-byte wire header): the SDK
  refuses a larger one before sending and the gateway answers 413 with the
  reason code :data:`TOO_LARGE_CODE`;
- the worker republishes what it accepts as a ``ValidatedSubmission`` (the
  submission plus enrichment and warnings, a few kilobytes more) and what it
  refuses as a ``Rejection`` carrying the original bytes; both stay under
  :data:`MAX_RECORD_BYTES`, the producers' ``max_request_size``;
- a record larger than :data:`MAX_SUBMISSION_BYTES` that reached the topic
  anyway (a raw producer, an old app) is rejected with :data:`TOO_LARGE_CODE`,
  and its Rejection carries the first :data:`QUARANTINE_ORIGINAL_BYTES` of it
  plus the size and SHA-256 of the whole, so it always fits;
- the local broker accepts up to :data:`BROKER_MESSAGE_MAX_BYTES` per record
  batch (``message.max.bytes``), Kafka's own default written down on purpose:
  above the producers' limit, so whatever a producer may send, the broker takes.
"""

from __future__ import annotations

#: Largest submission (wire bytes) a field app may publish; larger ones are refused.
MAX_SUBMISSION_BYTES = 512 * 1024

#: The producers' ``max_request_size``, set explicitly in every producer (Faust's default;
#: kafka-python and aiokafka default to 1 MiB, which the broker would not take with framing).
MAX_RECORD_BYTES = 1_000_000

#: The broker's ``message.max.bytes`` (Kafka's default, 1 MiB + 12 bytes of batch overhead).
BROKER_MESSAGE_MAX_BYTES = 1_048_588

#: Bytes of an oversized original kept in its Rejection (the rest is named by size and digest).
QUARANTINE_ORIGINAL_BYTES = 64 * 1024

#: The reason code of a submission over :data:`MAX_SUBMISSION_BYTES`, at the gateway and the worker.
TOO_LARGE_CODE = "SUBMISSION_TOO_LARGE"
