package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// The workflow every system runs, four steps:
//
//	identity  POST /identity {order_id}            → {customer_id}
//	fraud     POST /fraud    {customer_id, amount} → {check_id}
//	payment   POST /payment  {check_id, amount}    → {payment_id}
//	emit      record {payment_id, …} as an event in the system's own storage
//
// and its result holds payment_id. Each call carries an Idempotency-Key that is the
// same if the step runs again (the run's id and the step's name), so the fake services
// see a repeated step as a repeated key.

// input is run i's input; order ids are unique across the whole bench.
func input(orderID string, i int) map[string]any {
	return map[string]any{"order_id": orderID, "amount": float64(100 + i%900)}
}

// checkResult tells whether a run's result carries all three calls' outputs.
func checkResult(in, out map[string]any) error {
	order, _ := in["order_id"].(string)
	want := "pay-chk-cust-" + order
	if got, _ := out["payment_id"].(string); got != want {
		return fmt.Errorf("result payment_id %q, want %q", got, want)
	}
	return nil
}

// callService posts body to one of the fake services and returns its JSON answer.
func callService(ctx context.Context, e env, path, key string, body map[string]any) (map[string]any, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.services+path, bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	resp, err := e.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("POST %s: %s: %s", path, resp.Status, bytes.TrimSpace(msg))
	}
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("POST %s: answer: %w", path, err)
	}
	return out, nil
}
