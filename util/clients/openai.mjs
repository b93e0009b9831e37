// The official OpenAI Node SDK pointed at the module, as its users point
// it: what each call must give back.  Run by util/clients/run.

import fs from 'node:fs';
import OpenAI, { toFile } from 'openai';

const port = process.env.PORT;
const audio = fs.readFileSync(process.argv[2]);
let failed = 0;

function client(route, headers = { 'X-Customer-Id': 'acme' }) {
    return new OpenAI({
        apiKey: 'sk-test',
        baseURL: `http://127.0.0.1:${port}/${route}/v1`,
        defaultHeaders: headers,
        maxRetries: 0,
    });
}

async function file(bytes = audio) {
    return toFile(bytes, 'x.wav', { type: 'audio/wav' });
}

async function check(name, f) {
    try {
        const why = await f();
        if (why) {
            failed++;
            console.log(`not ok - ${name}: ${why}`);
        } else {
            console.log(`ok - ${name}`);
        }
    } catch (e) {
        failed++;
        console.log(`not ok - ${name}: ${e}`);
    }
}

async function refusal(f, want) {
    try {
        await f();
        return 'no error';
    } catch (e) {
        if (!(e instanceof OpenAI.APIError)) {
            return `not an APIError: ${e}`;
        }
        for (const [k, v] of Object.entries(want)) {
            const got = k === 'message' ? e.error?.message : e[k];
            if (got !== v) {
                return `${k} is ${JSON.stringify(got)}, not ${JSON.stringify(v)}`;
            }
        }
        return null;
    }
}

await check("response_format 'text' gives a string", async () => {
    const r = await client('text').audio.transcriptions.create({
        file: await file(), model: 'whisper-1', response_format: 'text' });
    return typeof r === 'string' && r.trim() === 'hello world'
        ? null : `got ${JSON.stringify(r)}`;
});

await check("response_format 'json' gives an object with text", async () => {
    const r = await client('json').audio.transcriptions.create({
        file: await file(), model: 'whisper-1', response_format: 'json' });
    return r && r.text === 'hello world' && typeof r.id === 'string'
        ? null : `got ${JSON.stringify(r)}`;
});

await check("response_format 'verbose_json' gives text and segments", async () => {
    const r = await client('verbose').audio.transcriptions.create({
        file: await file(), model: 'whisper-1',
        response_format: 'verbose_json' });
    return r && r.text === 'hello world' && Array.isArray(r.segments)
           && r.language === 'english'
        ? null : `got ${JSON.stringify(r)}`;
});

await check('no customer: an APIError with the module\'s status, type, code', () =>
    refusal(async () => client('json', {}).audio.transcriptions.create({
                file: await file(), model: 'whisper-1' }),
            { status: 403, type: 'authentication_error',
              code: 'customer_missing', message: 'no customer' }));

await check('a file too large: 413, invalid_request_error', () =>
    refusal(async () => client('json').audio.transcriptions.create({
                file: await file(Buffer.alloc(2 * 1024 * 1024, 1)),
                model: 'whisper-1' }),
            { status: 413, type: 'invalid_request_error',
              code: 'payload_too_large' }));

await check("the provider's 400: its message, the client's mistake", () =>
    refusal(async () => client('fr').audio.transcriptions.create({
                file: await file(), model: 'whisper-1', language: 'fr' }),
            { status: 400, type: 'invalid_request_error',
              code: 'provider_refused',
              message: "language 'fr' is not supported" }));

console.log(failed ? `FAIL: ${failed} check(s)` : 'PASS');
process.exit(failed ? 1 : 0);
