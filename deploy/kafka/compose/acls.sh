#!/bin/sh
# One-shot `kafka-setup` service: SCRAM logins and ACLs of the compose broker.
#
# Runs after the broker is healthy, as the super user `admin`, on every
# `docker compose up`: a password file the `init` service rewrote (rotation)
# is applied here, and the ACLs are added again (adding one that exists is a
# no-op). What each login may do:
#
#   field   the gateway and the field apps' SDK: write (and describe) the
#           submissions topic and the reviews topic (supervisors review through
#           the gateway), nothing else; no read of any topic.
#   worker  read, write and create the topics under the prefix (its input,
#           .valid, .rejected and its Faust changelog `<prefix>-worker-*`),
#           and its consumer group `<prefix>-worker`.
#   admin   super user (the broker itself, this script, `regsosek topics create`).
set -eu

SECRETS_DIR=${SECRETS_DIR:-/run/regsosek}
KAFKA_HOME=${KAFKA_HOME:-/opt/kafka}
BOOTSTRAP=${KAFKA_BOOTSTRAP:-kafka:19092}
PREFIX=${TOPIC_PREFIX:-regsosek}
ADMIN_CONFIG="$SECRETS_DIR/kafka/admin.properties"

configs() {
    "$KAFKA_HOME/bin/kafka-configs.sh" --bootstrap-server "$BOOTSTRAP" \
        --command-config "$ADMIN_CONFIG" "$@"
}
acl() {
    "$KAFKA_HOME/bin/kafka-acls.sh" --bootstrap-server "$BOOTSTRAP" \
        --command-config "$ADMIN_CONFIG" --add "$@"
}

for user in worker field; do
    password=$(cat "$SECRETS_DIR/kafka/$user.password")
    configs --alter --entity-type users --entity-name "$user" \
        --add-config "SCRAM-SHA-512=[iterations=8192,password=${password}]"
done

acl --allow-principal User:field --operation Write --operation Describe \
    --topic "$PREFIX.submissions" --topic "$PREFIX.reviews"

acl --allow-principal User:worker --resource-pattern-type prefixed --topic "$PREFIX" \
    --operation Read --operation Write --operation Describe --operation Create \
    --operation DescribeConfigs
acl --allow-principal User:worker --resource-pattern-type prefixed --group "$PREFIX-worker" \
    --operation Read --operation Describe

echo "kafka-setup: SCRAM users worker, field and their ACLs are in place"
