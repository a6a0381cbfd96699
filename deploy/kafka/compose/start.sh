#!/bin/sh
# Entry point of the compose stack's Kafka broker (apache/kafka image, KRaft, one node).
#
# Clients reach it only over SASL_SSL (SCRAM-SHA-512 logins, TLS with the
# certificate the `init` service made): CLIENT on kafka:19092 for containers,
# HOST on localhost:9092 for the Docker host. The only plaintext listener is the
# KRaft controller's, bound to 127.0.0.1 inside this container. ACLs decide
# what each login may do (deploy/kafka/compose/acls.sh); without an ACL,
# nothing is allowed. The SCRAM user `admin` (the broker's own login, and the
# one of the ACL tool and `regsosek topics create`) is created when the
# storage is formatted, from the password file the `init` service wrote.
#
# Every path and port can be changed through the variables below, so that
# tests/integration/test_compose_kafka.py runs this same script against the
# project's Kafka jars without Docker.
set -eu

SECRETS_DIR=${SECRETS_DIR:-/run/regsosek}
KAFKA_HOME=${KAFKA_HOME:-/opt/kafka}
DATA_DIR=${KAFKA_DATA_DIR:-/var/lib/kafka/data}
CONF_DIR=${KAFKA_CONF_DIR:-/tmp/regsosek-kafka}
ADVERTISED_HOST=${KAFKA_ADVERTISED_HOST:-kafka}
CLIENT_PORT=${KAFKA_CLIENT_PORT:-19092}
HOST_PORT=${KAFKA_HOST_PORT:-9092}
CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-9093}
# schemas/limits.py BROKER_MESSAGE_MAX_BYTES (checked by tests/unit/test_compose.py).
MESSAGE_MAX_BYTES=1048588

secret() {
    if [ ! -s "$SECRETS_DIR/kafka/$1" ]; then
        echo "kafka: $SECRETS_DIR/kafka/$1 is missing: did the init service run?" >&2
        exit 1
    fi
    cat "$SECRETS_DIR/kafka/$1"
}

STORE_PASSWORD=$(secret keystore.password)
ADMIN_PASSWORD=$(secret admin.password)
SCRAM_MODULE=org.apache.kafka.common.security.scram.ScramLoginModule

umask 077
mkdir -p "$CONF_DIR" "$DATA_DIR"
CONFIG="$CONF_DIR/server.properties"
cat > "$CONFIG" <<PROPERTIES
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:${CONTROLLER_PORT}
controller.listener.names=CONTROLLER
listeners=CLIENT://0.0.0.0:${CLIENT_PORT},HOST://0.0.0.0:${HOST_PORT},CONTROLLER://127.0.0.1:${CONTROLLER_PORT}
advertised.listeners=CLIENT://${ADVERTISED_HOST}:${CLIENT_PORT},HOST://localhost:${HOST_PORT}
listener.security.protocol.map=CLIENT:SASL_SSL,HOST:SASL_SSL,CONTROLLER:PLAINTEXT
inter.broker.listener.name=CLIENT

sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.client.scram-sha-512.sasl.jaas.config=${SCRAM_MODULE} required username="admin" password="${ADMIN_PASSWORD}";
listener.name.host.scram-sha-512.sasl.jaas.config=${SCRAM_MODULE} required;

ssl.keystore.type=PKCS12
ssl.keystore.location=${SECRETS_DIR}/kafka/server.p12
ssl.keystore.password=${STORE_PASSWORD}
ssl.key.password=${STORE_PASSWORD}
ssl.truststore.type=PEM
ssl.truststore.location=${SECRETS_DIR}/ca/ca.pem
ssl.client.auth=none
ssl.enabled.protocols=TLSv1.3,TLSv1.2

# Deny by default. ANONYMOUS is the principal of the plaintext controller
# listener, which only this container's loopback interface can reach.
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:admin;User:ANONYMOUS

log.dirs=${DATA_DIR}
# One node: internal topics cannot have more replicas than brokers.
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
default.replication.factor=1
min.insync.replicas=1
group.initial.rebalance.delay.ms=0
# Topics are created by \`regsosek topics create\` with their partitions and retention.
auto.create.topics.enable=false
message.max.bytes=${MESSAGE_MAX_BYTES}
PROPERTIES

if [ "${RENDER_ONLY:-0}" = 1 ]; then
    exit 0
fi

if [ ! -f "$DATA_DIR/meta.properties" ]; then
    CLUSTER_ID=$("$KAFKA_HOME/bin/kafka-storage.sh" random-uuid)
    "$KAFKA_HOME/bin/kafka-storage.sh" format --cluster-id "$CLUSTER_ID" --config "$CONFIG" \
        --add-scram "SCRAM-SHA-512=[name=admin,password=${ADMIN_PASSWORD}]"
fi

exec "$KAFKA_HOME/bin/kafka-server-start.sh" "$CONFIG"
