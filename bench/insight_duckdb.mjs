// The DuckDB peer of the insight benchmark: loads the CSV files of bench_gen_insight --csv-dir
// into a DuckDB database file, then runs bench/insight_segment.sql RUNS times.
//
//   (cd bench/duckdb && npm install)
//   node bench/insight_duckdb.mjs --csv-dir DIR --db FILE --merchant-id ID --now-micros N
//        [--runs 5] [--sql bench/insight_segment.sql,bench/insight_segment_lookup.sql]
//        [--compiled FILE]
//
// Each query file (comma-separated --sql; placeholders as bench/insight_segment.sql says) runs
// --runs times, then --compiled (CompileSegmentSql's query with literal parameters, from
// `bench_insight sql --compiled-out`; it returns member ids, which are counted). Every query
// must count the same members. Prints `RESULT engine=duckdb step=load load_s=... rows=...` and
// one `RESULT engine=duckdb step=segment variant=NAME count=... median_ms=... runs_ms=a,b,c`
// per query, and the runs as they go on stderr. Uses @duckdb/node-api from bench/duckdb/node_modules, at DuckDB's default
// settings (all cores: threads = 2 here). No indexes (see bench/insight_peer_indexes.sql).
import { createRequire } from 'node:module';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, 'duckdb', 'package.json'));
const { DuckDBInstance } = require('@duckdb/node-api');

function args() {
  const out = {
    runs: 5,
    sql: ['insight_segment.sql', 'insight_segment_lookup.sql'].map((f) => join(here, f)).join(','),
  };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '').replace(/-/g, '_');
    if (argv[i + 1] === undefined) throw new Error(`${argv[i]}: missing value`);
    out[key] = argv[i + 1];
  }
  for (const need of ['csv_dir', 'db', 'merchant_id', 'now_micros'])
    if (!out[need]) throw new Error(`--${need.replace(/_/g, '-')} is required`);
  out.runs = Number(out.runs);
  return out;
}

// Column types of the CSV files (bench/gen_insight.cpp writes them in this order).
const tables = {
  members: {
    merchant_id: 'BIGINT', id: 'BIGINT', birth_month: 'INTEGER', birth_day: 'INTEGER',
    gender: 'VARCHAR', region: 'VARCHAR', city: 'VARCHAR', tags: 'VARCHAR', language: 'VARCHAR',
    home_branch_id: 'BIGINT', merged_into: 'BIGINT', erased_at: 'BIGINT', created_at: 'BIGINT',
  },
  member_consents: {
    merchant_id: 'BIGINT', member_id: 'BIGINT', channel: 'VARCHAR', granted: 'INTEGER',
    changed_at: 'BIGINT',
  },
  orders: {
    merchant_id: 'BIGINT', id: 'BIGINT', member_id: 'BIGINT', branch_id: 'BIGINT',
    occurred_at: 'BIGINT', total_minor: 'BIGINT', refunded_minor: 'BIGINT',
  },
  order_items: {
    merchant_id: 'BIGINT', order_id: 'BIGINT', line: 'INTEGER', sku: 'VARCHAR',
    category: 'VARCHAR', quantity: 'BIGINT', unit_price_minor: 'BIGINT',
    refunded_quantity: 'BIGINT',
  },
};

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main() {
  const a = args();
  for (const suffix of ['', '.wal']) if (existsSync(a.db + suffix)) rmSync(a.db + suffix);
  const instance = await DuckDBInstance.create(a.db);
  const con = await instance.connect();
  const version = (await con.runAndReadAll('SELECT version()')).getRows()[0][0];

  const t0 = performance.now();
  let rows = 0;
  for (const [name, cols] of Object.entries(tables)) {
    const spec = Object.entries(cols).map(([c, t]) => `'${c}': '${t}'`).join(', ');
    const file = join(a.csv_dir, `${name}.csv`).replace(/'/g, "''");
    await con.run(
      `CREATE TABLE ${name} AS SELECT * FROM read_csv('${file}', header = true, ` +
        `columns = {${spec}}, quote = '"', escape = '"')`);
    const n = Number((await con.runAndReadAll(`SELECT count(*) FROM ${name}`)).getRows()[0][0]);
    console.error(`duckdb: ${name}: ${n} rows`);
    rows += n;
  }
  await con.run('CHECKPOINT');
  const loadS = (performance.now() - t0) / 1000;

  console.log(`RESULT engine=duckdb step=load version=${version} load_s=${loadS.toFixed(2)} rows=${rows}`);

  const now = BigInt(a.now_micros);
  const day = 86400000000n;
  const queries = a.sql.split(',').filter(Boolean).map((file) => ({
    variant: basename(file).replace(/\.sql$/, ''),
    sql: readFileSync(file, 'utf8')
      .replaceAll('{merchant_id}', a.merchant_id)
      .replaceAll('{since_365d}', String(now - 365n * day))
      .replaceAll('{before_60d}', String(now - 60n * day)),
    counted: true,
  }));
  if (a.compiled)
    queries.push({ variant: 'compiled', sql: readFileSync(a.compiled, 'utf8'), counted: false });

  let count = null;
  for (const q of queries) {
    const runs = [];
    for (let r = 0; r < a.runs; r++) {
      const t = performance.now();
      const rows = (await con.runAndReadAll(q.sql)).getRows();
      const got = q.counted ? Number(rows[0][0]) : rows.length;
      const ms = performance.now() - t;
      runs.push(ms);
      if (count !== null && got !== count)
        throw new Error(`${q.variant} run ${r + 1}: count ${got} != ${count}`);
      count = got;
      console.error(`duckdb: ${q.variant} run ${r + 1}: ${ms.toFixed(1)} ms, ${got} members`);
    }
    console.log(
      `RESULT engine=duckdb step=segment variant=${q.variant} count=${count} ` +
        `median_ms=${median(runs).toFixed(1)} runs_ms=${runs.map((x) => x.toFixed(1)).join(',')}`);
  }
  con.closeSync?.();
}

main().catch((e) => {
  console.error(`insight_duckdb: ${e.message}`);
  process.exit(1);
});
