package fakeapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
)

// HuggingFaceConfig configures the Hugging Face inference fake.
type HuggingFaceConfig struct {
	Token string // the one valid access token, e.g. "hf_…"; required
	// Cold lists models that are not loaded yet: the first request for one without
	// X-Wait-For-Model: true is 503 "currently loading"; any request with it loads it.
	Cold []string
}

// HuggingFaceSentiment is the text-classification model the fake serves.
const HuggingFaceSentiment = "distilbert/distilbert-base-uncased-finetuned-sst-2-english"

// HuggingFace is a fake of Hugging Face's serverless inference through its router
// (POST https://router.huggingface.co/hf-inference/models/{model}; the fake serves
// /hf-inference/models/{model}), with one model, HuggingFaceSentiment, a text
// classifier: {"inputs": "text" or ["text", …]} is answered [[{"label": "POSITIVE"|
// "NEGATIVE", "score"}, …], …], one list per text, best label first (the fake's verdict
// is a word list, not a model).
//
// Errors are Hugging Face's {"error": "…"}: a missing or wrong token 401, an unknown
// model 404 "Model … does not exist", a body without inputs 400, a cold model 503 with
// estimated_time (see HuggingFaceConfig.Cold), the rate limit (RateLimitNext) 429.
type HuggingFace struct {
	*Server
	cfg HuggingFaceConfig

	mu   sync.Mutex
	cold []string
}

// NewHuggingFace starts the fake; it is closed when the test ends. Give the client
// URL()+"/hf-inference" as the base URL.
func NewHuggingFace(t testing.TB, cfg HuggingFaceConfig) *HuggingFace {
	t.Helper()
	if cfg.Token == "" {
		t.Fatal("fakeapi.NewHuggingFace: Token is required")
	}
	h := &HuggingFace{cfg: cfg, cold: slices.Clone(cfg.Cold)}
	h.Server = start(t, nil, func(w http.ResponseWriter, _ *http.Request, status int) {
		msg := http.StatusText(status)
		if status == http.StatusTooManyRequests {
			msg = "Rate limit reached. You reached free usage limit (reset hourly). Please subscribe to a plan at https://huggingface.co/pricing to use the API at this rate"
		}
		writeJSON(w, status, map[string]any{"error": msg})
	}, http.HandlerFunc(h.serve))
	return h
}

var (
	hfPositive = []string{"good", "great", "love", "excellent", "happy", "wonderful", "fast", "works"}
	hfNegative = []string{"bad", "awful", "hate", "terrible", "sad", "slow", "broken", "fails"}
)

func (h *HuggingFace) serve(w http.ResponseWriter, r *http.Request) {
	model, ok := strings.CutPrefix(r.URL.Path, "/hf-inference/models/")
	if !ok || r.Method != http.MethodPost {
		writeJSON(w, http.StatusNotFound, map[string]any{"error": "Not Found"})
		return
	}
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") || token != h.cfg.Token {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "Invalid credentials in Authorization header"})
		return
	}
	h.mu.Lock()
	cold := slices.Contains(h.cold, model)
	if cold && strings.EqualFold(r.Header.Get("X-Wait-For-Model"), "true") {
		h.cold = slices.DeleteFunc(h.cold, func(m string) bool { return m == model })
		cold = false // loaded while the request waited
	}
	h.mu.Unlock()
	if model != HuggingFaceSentiment && !cold {
		writeJSON(w, http.StatusNotFound, map[string]any{"error": "Model " + model + " does not exist"})
		return
	}
	if cold {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"error": "Model " + model + " is currently loading", "estimated_time": 20.0})
		return
	}
	var req struct {
		Inputs json.RawMessage `json:"inputs"`
	}
	if err := json.Unmarshal(bytes.TrimSpace(readBody(r)), &req); err != nil || len(req.Inputs) == 0 {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "Error in `inputs`: field required"})
		return
	}
	var texts []string
	var one string
	if err := json.Unmarshal(req.Inputs, &one); err == nil {
		texts = []string{one}
	} else if err := json.Unmarshal(req.Inputs, &texts); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "Error in `inputs`: Input should be a valid string"})
		return
	}
	out := make([]any, len(texts))
	for i, text := range texts {
		score := 0.5
		for _, word := range strings.Fields(strings.ToLower(text)) {
			word = strings.Trim(word, ".,!?")
			switch {
			case slices.Contains(hfPositive, word):
				score += 0.24
			case slices.Contains(hfNegative, word):
				score -= 0.24
			}
		}
		score = min(0.9998, max(0.0002, score))
		pos, neg := map[string]any{"label": "POSITIVE", "score": score}, map[string]any{"label": "NEGATIVE", "score": 1 - score}
		if score >= 0.5 {
			out[i] = []any{pos, neg}
		} else {
			out[i] = []any{neg, pos}
		}
	}
	writeJSON(w, http.StatusOK, out)
}
