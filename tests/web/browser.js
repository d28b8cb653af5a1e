// tests/web/browser.js: drives Debian's Chromium with playwright-core through
// the dashboard as the abuse team would (called by tests/web_browser.sh, which
// starts the server and passes everything in the environment). Prints one
// "ok NAME" or "FAIL NAME: why" line per check; exits 1 when a check failed.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require(process.env.PW_MODULE);

const base = process.env.BASE;
const shots = process.env.SHOTS;
const inc = process.env.INCIDENT;
const other = process.env.OTHER_INCIDENT;
let fails = 0;
function check(name, ok, why) {
  if (ok) console.log(`ok   ${name}`);
  else { console.log(`FAIL ${name}: ${why}`); fails++; }
}

async function login(page, user, pw) {
  await page.goto(`${base}/login`);
  await page.fill('input[name=user]', user);
  await page.fill('input[name=password]', pw);
  await Promise.all([page.waitForNavigation(), page.click('form.login button')]);
}

(async () => {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'ad-chromium-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1280, height: 860 },
    locale: 'en-US',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const problems = [];
  const page = await ctx.newPage();
  // The refusals the test provokes (401, 403, 404, 409) are logged by Chromium
  // as failed loads; anything else (a CSP violation, a script error) counts.
  page.on('console', m => {
    if (m.type() === 'error' && !/^Failed to load resource: the server responded with a status of (401|403|404|409)/.test(m.text()))
      problems.push(m.text());
  });
  page.on('pageerror', e => problems.push(String(e)));
  const external = [];
  page.on('request', r => { if (!r.url().startsWith(base)) external.push(r.url()); });

  // 1. Not logged in: the login page; a wrong password is refused.
  await page.goto(`${base}/`);
  check('unauthenticated: sent to the login page', page.url() === `${base}/login`, page.url());
  await login(page, 'agent.smith', 'wrong-password');
  check('wrong password: refused with a message',
        (await page.locator('.error').count()) === 1 && page.url().endsWith('/login'), page.url());

  // 2. The agent logs in and sees the queue.
  await login(page, 'agent.smith', process.env.PW_AGENT);
  check('login: the queue', page.url() === `${base}/`, page.url());
  const rows = await page.locator('table.queue tbody tr').count();
  check('queue: the open incidents', rows === 3, `${rows} rows`);
  const badges = await page.locator('table.queue .badge.state-alerted').count();
  check('queue: state badges', badges === 3, `${badges} alerted badges`);
  check('queue: stage badges', (await page.locator('table.queue .badge.stage-alert').count()) === 3, 'no alert stage badge');
  const cookies = await ctx.cookies(base);
  const sess = cookies.find(c => c.name === 'ad_session');
  check('session cookie: HttpOnly, SameSite=Strict', sess && sess.httpOnly && sess.sameSite === 'Strict',
        JSON.stringify(sess));
  // The filters work from the form.
  await page.selectOption('select[name=sort]', 'score');
  await Promise.all([page.waitForNavigation(), page.click('form.filters button')]);
  const first = await page.locator('table.queue tbody tr:first-child td:nth-child(5)').textContent();
  check('queue: sorted by score, the highest first', first.trim() === 'alice@customer.example', first);
  await page.screenshot({ path: path.join(shots, 'queue.png'), fullPage: true });

  // 3. The incident page: the alert's facts, the explanation, the audit.
  await Promise.all([page.waitForNavigation(), page.click(`a[href="/incidents/${inc}"]`)]);
  const body = await page.locator('main').textContent();
  check('incident: the sender and customer', body.includes('alice@customer.example') && body.includes('C1001'), 'missing');
  check('incident: subject lines escaped, shown as text',
        body.includes('<script>alert(1)</script> pills') && (await page.locator('main script').count()) === 0, 'markup');
  const terms = await page.locator('table.terms tbody tr').count();
  check('incident: score explained term by term', terms >= 3, `${terms} terms`);
  check('incident: action buttons for an agent', (await page.locator('form.action button').count()) >= 4, 'no buttons');
  await page.screenshot({ path: path.join(shots, 'incident.png'), fullPage: true });

  // 4. CSRF: a form whose token is not the session's is refused.
  await page.locator('form.action input[name=csrf]').first().evaluate(e => { e.value = 'forged'; });
  await page.locator('form.action input[name=reason]').first().fill('forged lock');
  const [resp] = await Promise.all([page.waitForNavigation(), page.locator('form.action button').first().click()]);
  check('CSRF: forged token refused with 403', resp.status() === 403 && (await page.locator('.error').textContent()).includes('CSRF'),
        `${resp.status()}`);

  // 5. Work the incident: lock (notify the customer), then unlock with force: resolved.
  await page.goto(`${base}/incidents/${inc}`);
  await page.fill('form[action$="/lock"] input[name=reason]', 'trojan, locked from the dashboard');
  await Promise.all([page.waitForNavigation(), page.click('form[action$="/lock"] button')]);
  check('lock: the incident is locked and the customer notified',
        (await page.locator('h1 .badge.state-customer_notified').count()) === 1, await page.locator('h1').textContent());
  const audit = await page.locator('table.audit').textContent();
  check('lock: in the audit log under the agent', /agent\.smith\s*locked/.test(audit), audit.slice(0, 200));
  await page.fill('form[action$="/note"] input[name=reason]', 'customer called back');
  await Promise.all([page.waitForNavigation(), page.click('form[action$="/note"] button')]);
  await page.fill('form[action$="/unlock"] input[name=reason]', 'scanned and new password by phone');
  await Promise.all([page.waitForNavigation(), page.click('form[action$="/unlock"] button')]);
  check('unlock without force: refused, the reason shown',
        (await page.locator('p.error').count()) === 1 && (await page.locator('p.error').textContent()).includes('password'),
        await page.locator('main').textContent());
  await page.fill('form[action$="/unlock"] input[name=reason]', 'scanned and new password by phone');
  await page.check('form[action$="/unlock"] input[name=force]');
  await Promise.all([page.waitForNavigation(), page.click('form[action$="/unlock"] button')]);
  check('unlock with force: resolved', (await page.locator('h1 .badge.state-resolved').count()) === 1,
        await page.locator('h1').textContent());
  check('resolved: no more lock buttons', (await page.locator('form[action$="/lock"]').count()) === 0, 'lock button');

  // 6. The other pages, German, a phone's screen.
  await page.goto(`${base}/locks`);
  check('locks page', (await page.locator('h1').textContent()).includes('Locks'), 'no heading');
  await page.goto(`${base}/charts`);
  const svg = await page.locator('svg.chart').count();
  const bars = await page.locator('svg.chart rect').count();
  check('charts: server-rendered SVG with bars', svg === 2 && bars >= 2, `${svg} charts, ${bars} bars`);
  await page.screenshot({ path: path.join(shots, 'charts.png'), fullPage: true });
  await page.goto(`${base}/customers/C1001`);
  check('customer page: accounts and incidents',
        (await page.locator('main').textContent()).includes('alice@customer.example'), 'missing');
  await page.goto(`${base}/?lang=de&state=all`);
  check('German', (await page.locator('h1').textContent()) === 'Warteschlange', await page.locator('h1').textContent());
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${base}/incidents/${inc}`);
  const wide = await page.evaluate(() => document.documentElement.scrollWidth);
  check('phone: the incident page fits the screen', wide <= 400, `${wide}px wide`);
  await page.screenshot({ path: path.join(shots, 'incident-phone.png'), fullPage: false });
  await page.setViewportSize({ width: 1280, height: 860 });
  await page.goto(`${base}/?lang=en`);

  // 7. A viewer reads but cannot act.
  await page.click('header form button');
  await login(page, 'vera', process.env.PW_VIEWER);
  await page.goto(`${base}/incidents/${other}`);
  check('viewer: no action buttons', (await page.locator('form.action').count()) === 0, 'buttons shown');
  check('viewer: told the role only reads', (await page.locator('section.actions').textContent()).includes('only read'), 'no note');
  const csrf = await page.locator('header input[name=csrf]').getAttribute('value');
  const r = await page.request.post(`${base}/incidents/${other}/lock`, {
    form: { csrf, reason: 'viewer tries' }, maxRedirects: 0 });
  check('viewer: a lock posted with a valid session and token gets 403', r.status() === 403, `${r.status()}`);

  // 8. The admin manages users and sees the configuration.
  await page.click('header form button');
  await login(page, 'root-admin', process.env.PW_ADMIN);
  await page.goto(`${base}/users`);
  await page.fill('form[action="/users"] input[name=name]', 'night.shift');
  await page.selectOption('form[action="/users"] select[name=role]', 'agent');
  await page.fill('form[action="/users"] input[name=password]', 'night-shift-pass');
  await Promise.all([page.waitForNavigation(), page.click('form[action="/users"] button')]);
  check('admin: a user added from the page', (await page.locator('main table').textContent()).includes('night.shift'), 'missing');
  await Promise.all([page.waitForNavigation(), page.click('form[action="/users/night.shift/delete"] button')]);
  check('admin: and deleted', !(await page.locator('main table').textContent()).includes('night.shift'), 'still there');
  await page.goto(`${base}/config`);
  const conf = await page.locator('main').textContent();
  check('admin: the configuration, secrets not shown', conf.includes('metrics_allow') && !conf.includes('SECRET'), 'wrong');
  await page.screenshot({ path: path.join(shots, 'users.png'), fullPage: false });

  check('no script errors or CSP violations', problems.length === 0, problems.join(' | '));
  check('nothing loaded from elsewhere (works offline)', external.length === 0, external.join(' '));
  await ctx.close();
  fs.rmSync(profile, { recursive: true, force: true });
  process.exit(fails ? 1 : 0);
})().catch(e => { console.log(`FAIL browser: ${e.stack || e}`); process.exit(1); });
