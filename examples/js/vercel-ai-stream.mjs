// The Vercel AI SDK on Ollama: a streamed answer with streamText, then a tool call with generateText.
//
// The announcement's Vercel example reduced to its core, without Next.js: an OpenAI provider
// pointed at Ollama's OpenAI-compatible API. Same environment as openai-quickstart.mjs:
// OPENAI_BASE_URL (default http://localhost:11434/v1), OPENAI_API_KEY (default "ollama"),
// OLLAMA_MODEL (default llama3.2; the tool call needs a model with tool support), MAX_TOKENS.
//
// The last line of stdout is a JSON summary ({chunks, text_length, tool_calls, ...}) for scripts and tests.
//
// Run: node vercel-ai-stream.mjs   or   ollama-integrations run js/vercel-ai-stream --embedded
import { createOpenAI } from '@ai-sdk/openai'
import { APICallError, generateText, stepCountIs, streamText, tool } from 'ai'
import { z } from 'zod'

const baseURL = process.env.OPENAI_BASE_URL || 'http://localhost:11434/v1'
const modelId = process.env.OLLAMA_MODEL || 'llama3.2'
const maxOutputTokens = process.env.MAX_TOKENS ? Number(process.env.MAX_TOKENS) : undefined

const ollama = createOpenAI({
  baseURL,
  apiKey: process.env.OPENAI_API_KEY || 'ollama', // required, but unused
})
// `ollama(modelId)` would use OpenAI's newer Responses API (/v1/responses), which Ollama serves
// only in part; `.chat()` uses Chat Completions (/v1/chat/completions), the API Ollama implements.
const model = ollama.chat(modelId)

// 1. Stream an answer: print each piece as it arrives, as a chat UI would.
async function streamAnswer() {
  let failure
  const stream = streamText({
    model,
    prompt: 'Why is the sky blue?',
    maxOutputTokens,
    maxRetries: 0, // a local server that is down stays down; fail at once
    onError: ({ error }) => {
      failure = error // streamText reports errors here and just ends the stream; keep it to rethrow
    },
  })
  let chunks = 0
  let text = ''
  for await (const piece of stream.textStream) {
    process.stdout.write(piece)
    chunks += 1
    text += piece
  }
  if (failure) throw failure
  process.stdout.write('\n\n')
  return { chunks, text }
}

// 2. A tool call. The zod schema becomes the tool's JSON schema for the model, and the SDK
// validates the model's arguments against it before `execute` runs.
const SAMPLE_PRICES = { NVDA: 181.2, TSLA: 433.5, AAPL: 229.7 } // offline sample data, not live quotes

const getStockPrice = tool({
  description: 'Get the latest stock price for a ticker symbol.',
  inputSchema: z.object({
    ticker: z.enum(['NVDA', 'TSLA', 'AAPL']).describe('The ticker symbol'),
  }),
  execute: async ({ ticker }) => ({ ticker, price: SAMPLE_PRICES[ticker], currency: 'USD' }),
})

async function callTool() {
  const result = await generateText({
    model,
    prompt: "What is NVIDIA's stock price right now?",
    tools: { get_stock_price: getStockPrice },
    // Step 1: the model calls the tool and the SDK runs it; step 2: the model answers from the result.
    stopWhen: stepCountIs(2),
    maxOutputTokens,
    maxRetries: 0,
  })
  const toolCalls = result.steps.flatMap((step) =>
    step.toolResults.map((call) => ({ name: call.toolName, input: call.input, output: call.output })),
  )
  for (const call of toolCalls) {
    console.log(`tool call: ${call.name}(${JSON.stringify(call.input)}) -> ${JSON.stringify(call.output)}`)
  }
  console.log(`answer: ${result.text}`)
  return { toolCalls, steps: result.steps.length, text: result.text }
}

console.error(`model ${modelId} at ${baseURL}`)
try {
  const streamed = await streamAnswer()
  const tools = await callTool()
  console.log(
    JSON.stringify({
      chunks: streamed.chunks,
      text_length: streamed.text.length,
      tool_calls: tools.toolCalls,
      steps: tools.steps, // 2: the tool's result went back to the model for an answer
      answer_length: tools.text.length,
    }),
  )
} catch (err) {
  // Server down or model not pulled: say so plainly instead of printing a stack trace.
  if (!APICallError.isInstance(err)) throw err
  console.error(`${err.message} (is a server running at ${baseURL}, with ${modelId} pulled?)`)
  process.exitCode = 1
}
