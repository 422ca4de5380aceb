package wire

// The OpenAI-compatible request-time surface a LiteLLM proxy serves with a
// virtual key: the model list and chat completions. keyrace uses them as
// request-time decisions (is this key, in this team, allowed this model
// right now?), so only the fields those decisions need are modelled.

// ModelCreated is the "created" LiteLLM reports for every entry of
// /v1/models (a constant, not a real timestamp).
const ModelCreated = 1677610602

// Model is one entry of GET /v1/models.
type Model struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

// ModelList is the body of GET /v1/models: {"object": "list", "data": [...]}.
type ModelList struct {
	Object string  `json:"object"`
	Data   []Model `json:"data"`
}

// IDs returns the model ids in the order listed.
func (l ModelList) IDs() []string {
	out := make([]string, len(l.Data))
	for i, m := range l.Data {
		out[i] = m.ID
	}
	return out
}

// ChatMessage is one message of a chat completion. Content is a string or
// a list of content parts in requests, a string in the reference service's
// answers.
type ChatMessage struct {
	Role    string `json:"role"`
	Content any    `json:"content"`
}

// ChatCompletionRequest is the body of POST /v1/chat/completions, limited
// to what keyrace sends. MockResponse is LiteLLM's mock_response: the proxy
// answers with it instead of calling a provider, after every auth, model
// access and budget check a real call gets.
type ChatCompletionRequest struct {
	Model        string        `json:"model"`
	Messages     []ChatMessage `json:"messages"`
	MockResponse *string       `json:"mock_response,omitempty"`
	Stream       bool          `json:"stream,omitempty"`
}

// ChatChoice is one choice of a chat completion.
type ChatChoice struct {
	Index        int         `json:"index"`
	Message      ChatMessage `json:"message"`
	FinishReason string      `json:"finish_reason"`
}

// Usage is a completion's token accounting.
type Usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

// ChatCompletion is the body of a successful chat completion
// ("object": "chat.completion").
type ChatCompletion struct {
	ID      string       `json:"id"`
	Object  string       `json:"object"`
	Created int64        `json:"created"`
	Model   string       `json:"model"`
	Choices []ChatChoice `json:"choices"`
	Usage   Usage        `json:"usage"`
}
