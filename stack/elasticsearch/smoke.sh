#!/bin/bash
# Feature smoke for the stack node (run: bash stack/elasticsearch/smoke.sh); creates and deletes smoke-* indices.
# curl smoke of the features the app needs
E=http://127.0.0.1:${ES_PORT:-9200}
fail=0
chk() { # name, expected-substring, curl args...
  local name=$1 exp=$2; shift 2
  local out; out=$(curl -s -H "Content-Type: ${CT:-application/json}" "$@")
  if grep -q -- "$exp" <<<"$out"; then echo "OK   $name"; else echo "FAIL $name: $out" | cut -c1-600; fail=1; fi
}
curl -s -XDELETE "$E/smoke-*" >/dev/null
chk create-index '"acknowledged":true' -XPUT "$E/smoke-v1" -d '{"settings":{"number_of_shards":1,"number_of_replicas":0},"mappings":{"properties":{"title":{"type":"text"},"body":{"type":"text"},"tag":{"type":"keyword"},"n":{"type":"integer"},"ts":{"type":"date"}}}}'
chk index-external-gte '"result":"created"' -XPUT "$E/smoke-v1/_doc/1?version=5&version_type=external_gte" -d '{"title":"hello world","body":"quick brown fox","tag":"a","n":1,"ts":"2024-01-01"}'
chk index-external-gte-same '"result":"updated"' -XPUT "$E/smoke-v1/_doc/1?version=5&version_type=external_gte" -d '{"title":"hello world","body":"quick brown fox","tag":"a","n":1,"ts":"2024-01-01"}'
chk index-external-gte-stale 'version_conflict_engine_exception' -XPUT "$E/smoke-v1/_doc/1?version=4&version_type=external_gte" -d '{"title":"stale"}'
CT=application/x-ndjson chk bulk '"errors":false' -XPOST "$E/_bulk" --data-binary $'{"index":{"_index":"smoke-v1","_id":"2","version":3,"version_type":"external_gte"}}\n{"title":"second doc","body":"lazy dog","tag":"b","n":2,"ts":"2024-02-01"}\n{"index":{"_index":"smoke-v1","_id":"3","version":1,"version_type":"external_gte"}}\n{"title":"third hello","body":"brown dog","tag":"b","n":3,"ts":"2024-03-01"}\n{"delete":{"_index":"smoke-v1","_id":"9"}}\n'
chk refresh '"failed":0' -XPOST "$E/smoke-v1/_refresh"
chk term '"value":2' "$E/smoke-v1/_search?track_total_hits=true" -d '{"query":{"term":{"tag":"b"}}}'
chk terms '"value":3' "$E/smoke-v1/_search?track_total_hits=true" -d '{"query":{"terms":{"tag":["a","b"]}}}'
chk range '"value":2' "$E/smoke-v1/_search" -d '{"track_total_hits":true,"query":{"range":{"n":{"gte":2}}}}'
chk bool '"value":1' "$E/smoke-v1/_search" -d '{"track_total_hits":true,"query":{"bool":{"must":[{"match":{"body":"dog"}}],"filter":[{"range":{"ts":{"gte":"2024-03-01"}}}],"must_not":[{"term":{"tag":"a"}}]}}}'
chk match '"value":2' "$E/smoke-v1/_search" -d '{"track_total_hits":true,"query":{"match":{"title":"hello"}}}'
chk multi_match '"value":3' "$E/smoke-v1/_search" -d '{"track_total_hits":true,"query":{"multi_match":{"query":"hello dog","fields":["title^2","body"]}}}'
chk simple_query_string '"value":1' "$E/smoke-v1/_search" -d '{"track_total_hits":true,"query":{"simple_query_string":{"query":"brown + -dog","fields":["body"],"default_operator":"and"}}}'
chk sort-search_after '"_id":"3"' "$E/smoke-v1/_search" -d '{"size":1,"sort":[{"n":"asc"},{"tag":"asc"}],"search_after":[2,"b"]}'
chk track_total_hits-false '"hits":{"max_score"' "$E/smoke-v1/_search" -d '{"track_total_hits":false,"query":{"match_all":{}}}'
chk agg-terms '"key":"b","doc_count":2' "$E/smoke-v1/_search" -d '{"size":0,"aggs":{"t":{"terms":{"field":"tag"}}}}'
chk agg-range '"from":2.0,"doc_count":2' "$E/smoke-v1/_search" -d '{"size":0,"aggs":{"r":{"range":{"field":"n","ranges":[{"to":2},{"from":2}]}}}}'
chk create-index-v2 '"acknowledged":true' -XPUT "$E/smoke-v2" -d '{"settings":{"number_of_shards":1,"number_of_replicas":0,"refresh_interval":"-1"}}'
chk alias-add '"acknowledged":true' -XPOST "$E/_aliases" -d '{"actions":[{"add":{"index":"smoke-v1","alias":"smoke"}}]}'
chk alias-swap '"acknowledged":true' -XPOST "$E/_aliases" -d '{"actions":[{"remove":{"index":"smoke-v1","alias":"smoke"}},{"add":{"index":"smoke-v2","alias":"smoke","is_write_index":true}}]}'
chk alias-get '"smoke-v2":{"aliases":{"smoke"' "$E/_alias/smoke"
chk settings-update '"acknowledged":true' -XPUT "$E/smoke-v2/_settings" -d '{"index":{"refresh_interval":"1s","number_of_replicas":0}}'
chk settings-get '"refresh_interval":"1s"' "$E/smoke-v2/_settings"
chk delete-doc '"result":"deleted"' -XDELETE "$E/smoke-v1/_doc/2"
chk delete-index '"acknowledged":true' -XDELETE "$E/smoke-v1"
chk delete-index2 '"acknowledged":true' -XDELETE "$E/smoke-v2"
chk health '"status":"green"' "$E/_cluster/health?wait_for_status=yellow&timeout=5s"
exit $fail
