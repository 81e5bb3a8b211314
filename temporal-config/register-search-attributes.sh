#!/bin/sh
# Registers the custom search attributes on a Temporal server (docker-compose runs this
# in the admin-tools container). Keep in sync with search-attributes.ts (a unit test checks).
set -eu
ADDRESS="${TEMPORAL_ADDRESS:-temporal:7233}"
NAMESPACE="${TEMPORAL_NAMESPACE:-default}"
until temporal operator cluster health --address "$ADDRESS" >/dev/null 2>&1; do sleep 2; done
temporal operator namespace describe --address "$ADDRESS" "$NAMESPACE" >/dev/null 2>&1 \
  || temporal operator namespace create --address "$ADDRESS" "$NAMESPACE"
for attr in UserId:Keyword HorseId:Keyword ListingId:Keyword GestationId:Keyword PregnancyId:Keyword AnalysisType:Keyword Plan:Keyword; do
  name="${attr%%:*}"; type="${attr##*:}"
  temporal operator search-attribute create --address "$ADDRESS" --namespace "$NAMESPACE" --name "$name" --type "$type" 2>/dev/null \
    || echo "search attribute $name already exists"
done
echo "search attributes ready"
