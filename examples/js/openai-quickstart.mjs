// Ollama's OpenAI-compatibility quickstart in JavaScript: one chat completion with the OpenAI SDK.
//
// The announcement's snippet, with the server and model taken from the environment so the
// same file runs against Ollama, the embedded server (`ollama-integrations serve`) or a
// remote host:
//
//   OPENAI_BASE_URL  default http://localhost:11434/v1 (Ollama's OpenAI-compatible API)
//   OPENAI_API_KEY   default "ollama" (the SDK refuses to start without a key; Ollama ignores it)
//   OLLAMA_MODEL     default llama3.2
//   MAX_TOKENS       optional cap on the answer's length
//
// Run: node openai-quickstart.mjs   or   ollama-integrations run js/openai-quickstart --embedded
import OpenAI from 'openai'

const baseURL = process.env.OPENAI_BASE_URL || 'http://localhost:11434/v1'
const model = process.env.OLLAMA_MODEL || 'llama3.2'
const maxTokens = process.env.MAX_TOKENS ? Number(process.env.MAX_TOKENS) : undefined

const openai = new OpenAI({
  baseURL,
  apiKey: process.env.OPENAI_API_KEY || 'ollama', // required, but unused
  maxRetries: 0, // a local server that is down stays down; fail at once with its message
})

// To stderr, so stdout carries only the answer (pipe it, or compare it in a test).
console.error(`model ${model} at ${openai.baseURL}`)

try {
  const completion = await openai.chat.completions.create({
    model,
    messages: [{ role: 'user', content: 'Why is the sky blue?' }],
    max_tokens: maxTokens, // undefined is left out of the request
  })
  console.log(completion.choices[0].message.content)
} catch (err) {
  // The two usual first-run problems, said plainly instead of as a stack trace.
  if (err instanceof OpenAI.APIConnectionError) {
    console.error(`no server at ${baseURL}: start Ollama (ollama serve) or ollama-integrations serve`)
  } else if (err instanceof OpenAI.NotFoundError) {
    console.error(`${err.message}: pull it first (ollama pull ${model})`)
  } else {
    throw err
  }
  process.exitCode = 1
}
