// End-to-end benchmark of the server from the official MCP TypeScript SDK client over stdio, beside the floor (a trivial
// mcp-go stdio server whose one tool returns a constant, integration/floor), in the same run: every figure of the server
// is read as a ratio to the floor's. run.sh builds both binaries, installs this script's pinned SDK and runs it.
//
//   node bench.mjs   (configured by the environment:)
//     FLOOR_BIN, SERVER_BIN   the two binaries (required)
//     WORK                    a scratch folder for the projects (required)
//     COUNT (6)               repetitions; each repetition starts fresh processes, the floor's and the server's in turn
//     N (1000)                measured calls per scenario, WARMUP (200) calls before them
//     PROJECTS (100)          projects touched (one task_list each) before the second RSS reading
//     CLK_TCK (100)           the kernel's clock ticks per second (getconf CLK_TCK), for /proc/<pid>/stat
//
// Output: Go benchmark lines (benchstat reads them) on stdout, one per scenario per repetition, then a summary of the
// ratios to the floor on stderr. Server CPU is the spawned process's utime+stime from /proc/<pid>/stat before and after
// the N calls; client CPU is this process's own (process.cpuUsage).
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { readFileSync, mkdirSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';

const env = process.env;
const FLOOR_BIN = need('FLOOR_BIN');
const SERVER_BIN = need('SERVER_BIN');
const WORK = need('WORK');
const COUNT = int('COUNT', 6);
const N = int('N', 1000);
const WARMUP = int('WARMUP', 200);
const PROJECTS = int('PROJECTS', 100);
const CLK_TCK = int('CLK_TCK', 100);

function need(name) {
  if (!env[name]) {
    console.error(`bench.mjs: ${name} is not set (run integration/e2e/run.sh)`);
    process.exit(2);
  }
  return env[name];
}

function int(name, def) {
  const v = env[name] ? Number.parseInt(env[name], 10) : def;
  if (!Number.isFinite(v) || v < 0) {
    console.error(`bench.mjs: ${name}=${env[name]} is not a count`);
    process.exit(2);
  }
  return v;
}

// cpuMicros is the process's user+system CPU so far, in µs (fields 14 and 15 of /proc/<pid>/stat, in clock ticks).
function cpuMicros(pid) {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' '); // f[0] is field 3 (state)
  return ((Number(f[11]) + Number(f[12])) * 1e6) / CLK_TCK;
}

// rssBytes is the process's resident set (VmRSS of /proc/<pid>/status, in KiB there).
function rssBytes(pid) {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

// newProject makes a folder that the server takes for a project root (it holds .git/).
function newProject() {
  const dir = mkdtempSync(join(WORK, 'project-'));
  mkdirSync(join(dir, '.git'));
  return dir;
}

const now = () => process.hrtime.bigint();

// spawn starts bin in cwd and times initialize + tools/list.
async function spawn(bin, cwd) {
  const xdg = mkdtempSync(join(WORK, 'xdg-'));
  const transport = new StdioClientTransport({
    command: bin,
    args: [],
    cwd,
    // The server's environment as the integration tests give it: its own config home, no backends.
    env: {
      ...process.env,
      XDG_CONFIG_HOME: xdg,
      TASK_ORCHESTRATOR_WORKSPACE: '',
      CHROMA_URL: '',
      NEO4J_URI: '',
      TASK_ORCHESTRATOR_CHROMA_COMMAND: '',
      TASK_ORCHESTRATOR_EMBEDDINGS_PROVIDER: '',
    },
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (b) => {
    stderr = (stderr + b.toString()).slice(-4000);
  });
  const client = new Client({ name: 'e2e-bench', version: '1' });
  const t0 = now();
  await client.connect(transport);
  const tools = await client.listTools();
  const startupNs = Number(now() - t0);
  const pid = transport.pid;
  if (!pid) throw new Error(`${bin}: the transport has no pid`);
  return { client, transport, pid, startupNs, startupCPU: cpuMicros(pid), tools: tools.tools.map((t) => t.name), stderr: () => stderr };
}

async function call(s, name, args) {
  const res = await s.client.callTool({ name, arguments: args });
  if (res.isError) {
    throw new Error(`${name} ${JSON.stringify(args)}: ${JSON.stringify(res.content)}\nserver stderr:\n${s.stderr()}`);
  }
  return res;
}

// structured is a call's structured result (the text content's JSON where there is none).
function structured(res) {
  if (res.structuredContent) return res.structuredContent;
  return JSON.parse(res.content[0].text);
}

// measure runs WARMUP then N calls of one (i => Promise) and prints the scenario's line; given the floor's echo of
// the same repetition, also a line of the ratios to it (call=X/vs=floor), which benchstat can compare across runs
// whose noise differs.
async function measure(s, label, one, floor) {
  for (let i = 0; i < WARMUP; i++) await one(i);
  const cpu0 = cpuMicros(s.pid);
  const c0 = process.cpuUsage();
  const t0 = now();
  for (let i = 0; i < N; i++) await one(WARMUP + i);
  const wallNs = Number(now() - t0);
  const c = process.cpuUsage(c0);
  const cpu = cpuMicros(s.pid) - cpu0;
  const r = { nsOp: wallNs / N, cpuCall: cpu / N, callsS: (N * 1e9) / wallNs, clientCall: (c.user + c.system) / N };
  line(`${label}`, N, [
    [r.nsOp, 'ns/op'],
    [r.cpuCall, 'cpu-µs/call'],
    [r.callsS, 'calls/s'],
    [r.clientCall, 'client-cpu-µs/call'],
  ]);
  record(label, r);
  if (floor) {
    // The CPU is counted in clock ticks (10 ms): a floor below one tick over N calls has no CPU ratio.
    const x = { cpu: floor.cpuCall > 0 ? r.cpuCall / floor.cpuCall : NaN, rate: r.callsS / floor.callsS };
    line(`${label}/vs=floor`, 1, [
      ...(floor.cpuCall > 0 ? [[x.cpu, 'cpu-vs-floor']] : []),
      [x.rate, 'rate-vs-floor'],
    ]);
    record(`${label}/vs=floor`, x);
  }
  return r;
}

const results = {}; // label -> {metric -> [values]}
function record(label, r) {
  const m = (results[label] ??= {});
  for (const [k, v] of Object.entries(r)) (m[k] ??= []).push(v);
}

function line(label, n, pairs) {
  const fmt = (v) => (Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(4));
  console.log(`BenchmarkE2E/client=ts/${label} ${n} ${pairs.map(([v, u]) => `${fmt(v)} ${u}`).join(' ')}`);
}

function startup(s, label) {
  line(`${label}/call=startup`, 1, [
    [s.startupNs, 'ns/op'],
    [s.startupNs / 1e6, 'startup-ms'],
    [s.startupCPU / 1000, 'cpu-ms'],
  ]);
  record(`${label}/call=startup`, { ms: s.startupNs / 1e6, cpuMs: s.startupCPU / 1000 });
}

async function floorRun() {
  const s = await spawn(FLOOR_BIN, newProject());
  try {
    startup(s, 'server=floor');
    const r = await measure(s, 'server=floor/call=echo', () => call(s, 'echo', { workspace: '/nowhere', id: 'T-1' }));
    return { ...r, startupNs: s.startupNs };
  } finally {
    await s.client.close();
  }
}

async function serverRun(floor) {
  const project = newProject();
  const s = await spawn(SERVER_BIN, project);
  try {
    for (const t of ['task_get', 'task_list', 'task_create', 'task_claim', 'task_complete']) {
      if (!s.tools.includes(t)) throw new Error(`${SERVER_BIN} lists no ${t} (it lists ${s.tools.join(', ')})`);
    }
    startup(s, 'server=orchestrator');
    line('server=orchestrator/call=startup/vs=floor', 1, [[s.startupNs / floor.startupNs, 'time-vs-floor']]);
    record('server=orchestrator/call=startup/vs=floor', { time: s.startupNs / floor.startupNs });
    const ids = [];
    for (let i = 0; i < 20; i++) {
      const t = structured(await call(s, 'task_create', { workspace: project, title: `seed ${i}`, description: 'a task to read' }));
      ids.push(t.task.id);
    }
    await measure(s, 'server=orchestrator/call=task_get', () => call(s, 'task_get', { workspace: project, id: ids[0] }), floor);
    const listed = structured(await call(s, 'task_list', { workspace: project, status: ['pending'], limit: 20 }));
    if (listed.tasks.length !== 20) throw new Error(`task_list answered ${listed.tasks.length} tasks, want 20`);
    await measure(s, 'server=orchestrator/call=task_list', () =>
      call(s, 'task_list', { workspace: project, status: ['pending'], limit: 20 }),
      floor,
    );
    // WARMUP+N tasks labelled bench, which the claim scenario then claims and completes one by one.
    await measure(s, 'server=orchestrator/call=task_create', (i) =>
      call(s, 'task_create', { workspace: project, title: `bench ${i}`, labels: ['bench'] }),
      floor,
    );
    await measure(s, 'server=orchestrator/call=task_claim+task_complete', async () => {
      const c = structured(await call(s, 'task_claim', { workspace: project, agent: 'bench', labels: ['bench'] }));
      if (!c.task) throw new Error('task_claim found no task to claim');
      await call(s, 'task_complete', { workspace: project, id: c.task.id, agent: 'bench', summary: 'done' });
    }, floor);
  } finally {
    await s.client.close();
  }
}

// rssRun reads the resident set of a fresh process after start-up, then after one task_list (the floor: one echo) in
// each of PROJECTS new projects.
async function rssRun(label, bin, tool) {
  const s = await spawn(bin, newProject());
  try {
    const idle = rssBytes(s.pid);
    for (let i = 0; i < PROJECTS; i++) await call(s, tool, { workspace: newProject() });
    const after = rssBytes(s.pid);
    line(`${label}/call=rss`, 1, [
      [idle, 'idle-rss-B'],
      [after, `after-${PROJECTS}-projects-rss-B`],
    ]);
    record(`${label}/call=rss`, { idle, after });
  } finally {
    await s.client.close();
  }
}

const median = (xs) => {
  const s = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

for (let rep = 0; rep < COUNT; rep++) {
  await serverRun(await floorRun());
  await rssRun('server=floor', FLOOR_BIN, 'echo');
  await rssRun('server=orchestrator', SERVER_BIN, 'task_list');
}

// The summary: medians over the repetitions, each of the server's scenarios against the floor's echo.
const out = [];
out.push(
  `medians of ${COUNT} repetitions, ${N} calls each after ${WARMUP} warm-up calls; floor = server=floor/call=echo; ` +
    `÷ floor: the median of each repetition's ratio to the floor's echo of the same repetition`,
);
out.push(
  `${'call'.padEnd(44)} ${'cpu-µs/call'.padStart(12)} ${'÷ floor'.padStart(8)} ${'calls/s'.padStart(9)} ${'÷ floor'.padStart(8)} ${'client-cpu-µs'.padStart(14)}`,
);
for (const [label, m] of Object.entries(results)) {
  if (!m.cpuCall) continue;
  const x = results[`${label}/vs=floor`] ?? { cpu: [1], rate: [1] };
  out.push(
    `${label.replace(/^server=/, '').padEnd(44)} ${median(m.cpuCall).toFixed(1).padStart(12)} ${median(x.cpu).toFixed(2).padStart(8)} ` +
      `${median(m.callsS).toFixed(0).padStart(9)} ${median(x.rate).toFixed(3).padStart(8)} ${median(m.clientCall).toFixed(1).padStart(14)}`,
  );
}
for (const who of ['floor', 'orchestrator']) {
  const st = results[`server=${who}/call=startup`];
  const rss = results[`server=${who}/call=rss`];
  out.push(
    `${who}: start-up (spawn + initialize + tools/list) ${median(st.ms).toFixed(1)} ms` +
      (who === 'floor' ? '' : ` (${median(results['server=orchestrator/call=startup/vs=floor'].time).toFixed(1)} × the floor's)`) +
      `, server CPU ${median(st.cpuMs).toFixed(0)} ms; RSS idle ${(median(rss.idle) / 2 ** 20).toFixed(1)} MiB, after ${PROJECTS} projects ${(median(rss.after) / 2 ** 20).toFixed(1)} MiB`,
  );
}
console.error(out.join('\n'));
