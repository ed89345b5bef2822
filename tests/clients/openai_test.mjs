// The official `openai` npm package against a running `dsinfer serve`.
// usage: node openai_test.mjs PORT API_KEY MODEL
// Prints "N passed, 0 failed" and exits 0 when every check holds.
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const [port, apiKey, model] = process.argv.slice(2);
if (!port || !apiKey || !model) {
  console.error('usage: node openai_test.mjs PORT API_KEY MODEL');
  process.exit(2);
}
const baseURL = `http://127.0.0.1:${port}/v1`;
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 60_000 });

const tests = [];
const test = (name, fn) => tests.push({ name, fn });
const messages = [
  { role: 'system', content: 'You are terse.' },
  { role: 'user', content: 'Name three colours.' },
];

function checkUsage(usage) {
  assert.ok(usage, 'usage present');
  assert.ok(usage.prompt_tokens > 0);
  assert.ok(usage.completion_tokens > 0);
  assert.equal(usage.total_tokens, usage.prompt_tokens + usage.completion_tokens);
}

async function streamChat(params) {
  const stream = await client.chat.completions.create({ ...params, stream: true, stream_options: { include_usage: true } });
  const out = { content: '', reasoning: '', finish: null, usage: null, role: null, chunks: 0 };
  for await (const chunk of stream) {
    out.chunks++;
    assert.equal(chunk.object, 'chat.completion.chunk');
    if (chunk.usage) out.usage = chunk.usage;
    for (const choice of chunk.choices) {
      if (choice.delta.role) out.role = choice.delta.role;
      if (choice.delta.content) out.content += choice.delta.content;
      if (choice.delta.reasoning_content) out.reasoning += choice.delta.reasoning_content;
      if (choice.finish_reason) out.finish = choice.finish_reason;
    }
  }
  return out;
}

test('models.list shows the served model', async () => {
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  assert.deepEqual(ids, [model]);
  const one = await client.models.retrieve(model);
  assert.equal(one.owned_by, 'dsinfer');
});

test('chat completion (non-stream)', async () => {
  const r = await client.chat.completions.create({ model, messages, max_tokens: 12, temperature: 0 });
  assert.equal(r.object, 'chat.completion');
  assert.equal(r.choices.length, 1);
  assert.equal(r.choices[0].message.role, 'assistant');
  assert.equal(typeof r.choices[0].message.content, 'string');
  assert.ok(['stop', 'length'].includes(r.choices[0].finish_reason));
  checkUsage(r.usage);
  assert.ok(r.usage.completion_tokens <= 12);
});

test('chat stream equals the non-streamed greedy answer', async () => {
  const params = { model, messages, max_tokens: 12, temperature: 0, seed: 3 };
  const full = await client.chat.completions.create(params);
  const s = await streamChat(params);
  assert.equal(s.role, 'assistant');
  assert.equal(s.content, full.choices[0].message.content);
  assert.equal(s.finish, full.choices[0].finish_reason);
  checkUsage(s.usage);
  assert.equal(s.usage.completion_tokens, full.usage.completion_tokens);
});

test('chat stream carries reasoning_content when the template opens <think>', async () => {
  const params = { model, messages, max_tokens: 8, temperature: 0, chat_template_kwargs: { enable_thinking: true } };
  const s = await streamChat(params);
  assert.ok(s.reasoning.length > 0, 'reasoning_content deltas');
  const full = await client.chat.completions.create(params);
  assert.equal(full.choices[0].message.reasoning_content, s.reasoning);
});

test('chat logprobs', async () => {
  const r = await client.chat.completions.create({
    model, messages, max_tokens: 5, temperature: 0, logprobs: true, top_logprobs: 3,
  });
  const content = r.choices[0].logprobs.content;
  assert.equal(content.length, r.usage.completion_tokens);
  for (const e of content) {
    assert.ok(e.logprob <= 0);
    assert.equal(e.top_logprobs.length, 3);
    assert.ok(e.top_logprobs[0].logprob >= e.top_logprobs[2].logprob);
  }
});

test('completions (string, list, stream)', async () => {
  const r = await client.completions.create({ model, prompt: 'Once upon a time', max_tokens: 6, temperature: 0 });
  assert.equal(r.object, 'text_completion');
  assert.equal(typeof r.choices[0].text, 'string');
  checkUsage(r.usage);
  const many = await client.completions.create({ model, prompt: ['a', 'b'], max_tokens: 2, temperature: 0 });
  assert.deepEqual(many.choices.map((c) => c.index), [0, 1]);
  const stream = await client.completions.create({
    model, prompt: 'Once upon a time', max_tokens: 6, temperature: 0, stream: true,
  });
  let text = '';
  for await (const chunk of stream) for (const c of chunk.choices) text += c.text;
  assert.equal(text, r.choices[0].text);
});

test('unknown model -> NotFoundError 404', async () => {
  await assert.rejects(
    client.chat.completions.create({ model: 'no-such-model', messages, max_tokens: 2 }),
    (e) => e instanceof OpenAI.NotFoundError && e.status === 404 && e.code === 'model_not_found',
  );
});

test('invalid parameters -> BadRequestError 400', async () => {
  for (const bad of [{ temperature: 5 }, { max_tokens: -3 }, { n: 0 }, { top_p: 2 }]) {
    await assert.rejects(
      client.chat.completions.create({ model, messages, max_tokens: 2, ...bad }),
      (e) => e instanceof OpenAI.BadRequestError && e.status === 400 && typeof e.message === 'string',
      JSON.stringify(bad),
    );
  }
  await assert.rejects(
    client.completions.create({ model, prompt: 'x', suffix: 'y', max_tokens: 2 }),
    (e) => e instanceof OpenAI.BadRequestError,
  );
});

test('wrong API key -> AuthenticationError 401', async () => {
  const wrong = new OpenAI({ baseURL, apiKey: 'not-the-key', maxRetries: 0 });
  await assert.rejects(wrong.models.list(), (e) => e instanceof OpenAI.AuthenticationError && e.status === 401);
  await assert.rejects(
    wrong.chat.completions.create({ model, messages, max_tokens: 2 }),
    (e) => e instanceof OpenAI.AuthenticationError,
  );
});

let passed = 0;
let failed = 0;
for (const t of tests) {
  try {
    await t.fn();
    passed++;
    console.log(`ok   ${t.name}`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${t.name}: ${e?.stack ?? e}`);
  }
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
