#!/usr/bin/env node
// A stand-in for the GitHub CLI (gh), the one real program the tests cannot use (it needs GitHub). It answers the calls
// app-workspaces.md §3.7 lists from a state file next to it (gh-state.json), records every call (gh-calls.log), and
// fails the way gh does: logged out, no pull request for a branch, unknown command.
'use strict';
const fs = require('fs');
const path = require('path');

const dir = path.dirname(fs.realpathSync(process.argv[1]));
const statePath = path.join(dir, 'gh-state.json');
const state = JSON.parse(fs.readFileSync(statePath, 'utf8'));
const args = process.argv.slice(2);
fs.appendFileSync(path.join(dir, 'gh-calls.log'), JSON.stringify(args) + '\n');

const fail = (message, code = 1) => { process.stderr.write(message + '\n'); process.exit(code); };
// `--name value` and `--name=value`, as gh (cobra) takes them.
const option = (name) => {
  const joined = args.find(a => a.startsWith(name + '='));
  if (joined !== undefined) return joined.slice(name.length + 1);
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const fields = (name) => args.filter((a, i) => args[i - 1] === name);
const pick = (object, list) => { const keys = (list || '').split(',').filter(Boolean); return keys.length ? Object.fromEntries(keys.map(k => [k, object[k] ?? null])) : object; };
const print = (value) => process.stdout.write(JSON.stringify(value) + '\n');

if (!state.loggedIn) fail('You are not logged into any GitHub hosts. To log in, run: gh auth login', 4);
const [command, sub] = args;
if (command === 'auth' && sub === 'status') { process.stdout.write('github.com\n  Logged in to github.com account test\n'); process.exit(0); }
if (command === 'pr' && sub === 'view') {
  const branch = args[2];
  const pr = (state.prs || []).find(p => p.headRefName === branch && p.state === 'OPEN');
  if (!pr) fail(`no pull requests found for branch "${branch}"`);
  print(pick(pr, option('--json')));
  process.exit(0);
}
if (command === 'pr' && sub === 'list') {
  const head = option('--head');
  const search = option('--search');
  const limit = Number(option('--limit') || 30);
  const found = (state.prs || []).filter(p => (head === undefined || p.headRefName === head) && (search === undefined || p.title.toLowerCase().includes(search.toLowerCase())));
  print(found.slice(0, limit).map(p => pick(p, option('--json'))));
  process.exit(0);
}
if (command === 'issue' && sub === 'list') {
  const search = (option('--search') || '').toLowerCase();
  const limit = Number(option('--limit') || 30);
  print((state.issues || []).filter(i => i.title.toLowerCase().includes(search)).slice(0, limit).map(i => pick(i, option('--json'))));
  process.exit(0);
}
if (command === 'api' && args.includes('graphql')) {
  const values = Object.fromEntries(fields('-F').map(f => [f.slice(0, f.indexOf('=')), f.slice(f.indexOf('=') + 1)]));
  const timeline = (state.timelines || {})[values.number];
  print({ data: { repository: { pullRequest: timeline || null } } });
  process.exit(0);
}
if (command === 'api' && option('-X') === 'POST') {
  const route = args.find(a => a.startsWith('repos/'));
  const values = Object.fromEntries(fields('-f').map(f => [f.slice(0, f.indexOf('=')), f.slice(f.indexOf('=') + 1)]));
  const number = 100 + (state.prs || []).length;
  const pr = { number, url: `https://github.com/${route.split('/')[1]}/${route.split('/')[2]}/pull/${number}`, title: values.title, state: 'OPEN', isDraft: false,
    baseRefName: values.base, headRefName: values.head, mergedAt: null, statusCheckRollup: [], reviewDecision: null, body: values.body };
  state.prs = [...(state.prs || []), pr];
  fs.writeFileSync(statePath, JSON.stringify(state));
  print({ url: `https://api.github.com/${route}/${number}`, number });
  process.exit(0);
}
fail(`unknown command "${args.join(' ')}" for "gh"`);
