package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/junctionhq/junction/internal/fixtures"
)

// TestWorkflowFixtureIsCodeGeneration: the workflows of CodeAI's with_workflows.cai call
// activities of the application CodeAI generates, not integrations: each is kept as
// code generation, reported once, and its triggers make no handler or job.
func TestWorkflowFixtureIsCodeGeneration(t *testing.T) {
	path := fixtures.Path(t, "fixtures/codeai/with_workflows.cai")
	cfg, diags := Load(path)
	if diags.HasErrors() {
		t.Fatalf("errors: %v", diags.Err())
	}
	if len(cfg.Workflows) != 0 || len(cfg.Handlers) != 0 || len(cfg.Jobs) != 0 {
		t.Errorf("workflows %d, handlers %d, jobs %d; want none", len(cfg.Workflows), len(cfg.Handlers), len(cfg.Jobs))
	}
	var names []string
	for _, ig := range cfg.Ignored {
		if ig.Kind == "workflow activities" {
			names = append(names, ig.Name)
		}
	}
	if want := []string{"order_fulfillment", "refund_processing", "daily_sales_report", "user_onboarding"}; !slices.Equal(names, want) {
		t.Errorf("workflows of activities = %q, want %q", names, want)
	}
	want := path + `:20:1: warning: 4 workflows of generated-application activities (order_fulfillment, refund_processing, daily_sales_report, …) are not run: activities such as "orders.validate", "inventory.check", … name no declared integration: they are functions of a CodeAI-generated application (code generation); declare integrations with those operations for Junction to call them`
	if got := diagStrings(diags); !slices.Contains(got, want) || len(got) != 2 {
		t.Errorf("diagnostics = %q\nwant %s and the task jobs' warning", got, want)
	}
	if s := cfg.Summary().String(); !strings.HasSuffix(s, "0 flows, 11 blocks not run") {
		t.Errorf("summary = %s", s)
	}
}

// TestWorkflowFixtureWithIntegrations: the same text beside integrations that declare
// most of its activities is Junction's to run, in the model both dialects share. The
// workflows that call some undeclared activities, or use CodeAI's config block, are
// errors at each.
func TestWorkflowFixtureWithIntegrations(t *testing.T) {
	path := fixtures.Path(t, "fixtures/codeai/with_workflows.cai")
	cfg, diags := Load(path, "testdata/workflows/activities.cai")
	wantErrs := []string{
		`:89:13: workflow refund_processing step validate_refund call: integration "refunds" is not declared`,
		`:97:13: workflow refund_processing step check_eligibility call: integration "refunds" is not declared`,
		`:149:13: workflow daily_sales_report step calculate_period call: integration "reports" is not declared`,
		`:156:13: workflow daily_sales_report step fetch_sales_data call: integration "reports" is not declared`,
		`:164:13: workflow daily_sales_report step aggregate_metrics call: integration "reports" is not declared`,
		`:171:13: workflow daily_sales_report step generate_report call: integration "reports" is not declared`,
		`:180:14: workflow daily_sales_report step upload_to_storage call: integration "storage" is not declared`,
		`:190:18: workflow daily_sales_report step send_email_report input.recipients: "config.reports.sales_recipients": config values belong to CodeAI's code generation (its config block is not run): write the value itself here`,
		`:209:13: workflow user_onboarding step create_profile call: integration "users" is not declared`,
		`:217:13: workflow user_onboarding step setup_preferences call: integration "users" is not declared`,
		`:220:15: workflow user_onboarding step setup_preferences input.defaults: "config.user_defaults": config values belong to CodeAI's code generation (its config block is not run): write the value itself here`,
		`:233:14: workflow user_onboarding step create_tutorial_tasks call: integration "tasks" is not declared`,
		`:239:14: workflow user_onboarding step setup_integrations call: integration "integrations" is not declared`,
		`:247:13: workflow user_onboarding step activate_account call: integration "users" is not declared`,
	}
	for i := range wantErrs {
		wantErrs[i] = path + wantErrs[i]
	}
	if diff := cmp.Diff(wantErrs, diagStrings(diags.Filter(SeverityError))); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
	if s := cfg.Summary(); s.Workflows != 4 || s.Handlers != 0 || s.Jobs != 0 || s.Ignored != 7 {
		t.Errorf("summary = %s", s)
	}

	of := cfg.Workflow("order_fulfillment")
	if of.Timeout != 2*time.Hour || len(of.Triggers) != 1 || of.Triggers[0].Kind != "event" || of.Triggers[0].Event != "order.created" {
		t.Errorf("order_fulfillment = %+v", of)
	}
	if r := of.Retry; r == nil || r.Attempts != 3 || r.Initial != 10*time.Second || r.Multiplier != 2 || r.Backoff != BackoffExponential {
		t.Errorf("order_fulfillment retry = %+v", r)
	}
	if got := stepOutline(of.Steps); got != "validate_order call orders.validate, check_inventory call inventory.check, process_payment call payments.process, parallel_1 parallel [reserve_inventory call inventory.reserve, notify_warehouse call warehouse.notify], send_confirmation call notifications.send_email" {
		t.Errorf("order_fulfillment steps = %s", got)
	}
	wantInputs := map[string]map[string]any{
		"validate_order":    {"order_id": "{{workflow.input.order_id}}"},
		"process_payment":   {"amount": "{{steps.validate_order.output.total}}", "customer_id": "{{workflow.input.customer_id}}"},
		"reserve_inventory": {"items": "{{steps.check_inventory.output.available_items}}"},
		"send_confirmation": {"template": "order_confirmation", "recipient": "{{workflow.input.customer_email}}"},
	}
	for id, want := range wantInputs {
		if diff := cmp.Diff(want, findStep(of, id).Input); diff != "" {
			t.Errorf("%s input (-want +got):\n%s", id, diff)
		}
	}

	rp := cfg.Workflow("refund_processing")
	ce := findStep(rp, "check_eligibility")
	if ce.Condition != "steps.validate_refund.output.is_valid == true" || ce.OnFalse != OnFalseSkip || ce.Input["validation_result"] != "{{steps.validate_refund.output}}" {
		t.Errorf("check_eligibility = %+v", ce)
	}
	if r := rp.Retry; r.Attempts != 5 || r.Initial != 5*time.Second || r.Multiplier != 1.5 {
		t.Errorf("refund_processing retry = %+v", r)
	}

	ds := cfg.Workflow("daily_sales_report")
	if ds.Triggers[0].Kind != "schedule" || ds.Triggers[0].Schedule != "0 6 * * *" || findStep(ds, "upload_to_storage").Input["path"] != "reports/sales/" {
		t.Errorf("daily_sales_report = %+v", ds)
	}
	uo := cfg.Workflow("user_onboarding")
	if uo.Triggers[0].Kind != "manual" || len(uo.Steps[2].Branches) != 3 || uo.Steps[2].ID != "parallel_1" {
		t.Errorf("user_onboarding = %s", stepOutline(uo.Steps))
	}

	// Triggers are handlers and jobs, made at the trigger.
	wantHandlers := []Handler{
		{Event: "order.created", Action: "workflow", Target: "order_fulfillment", Trigger: true},
		{Event: "refund.requested", Action: "workflow", Target: "refund_processing", Trigger: true},
	}
	for i, want := range wantHandlers {
		got := *cfg.Handlers[i]
		if got.Pos.Line != of.Triggers[0].Pos.Line && i == 0 || got.EventPos != got.Pos || got.TargetPos != got.Pos {
			t.Errorf("handler %d positions = %v %v %v", i, got.Pos, got.EventPos, got.TargetPos)
		}
		got.Pos, got.EventPos, got.TargetPos = Pos{}, Pos{}, Pos{}
		if got != want {
			t.Errorf("handler %d = %+v, want %+v", i, got, want)
		}
	}
	if j := cfg.Jobs[0]; len(cfg.Jobs) != 1 || j.Name != "workflow:daily_sales_report" || j.Schedule != "0 6 * * *" || j.Workflow != "daily_sales_report" || !j.Trigger || j.CatchUp != CatchUpLatest || j.Pos.Line != 144 {
		t.Errorf("jobs = %+v", cfg.Jobs[0])
	}
}

// stepOutline renders steps as "id kind target", branches in brackets.
func stepOutline(steps []*WorkflowStep) string {
	var out []string
	for _, st := range steps {
		s := st.ID + " " + string(st.Kind)
		if st.Target != "" {
			s += " " + st.Target
		}
		if st.Branches != nil {
			s += " [" + stepOutline(st.Branches) + "]"
		}
		out = append(out, s)
	}
	return strings.Join(out, ", ")
}

func findStep(w *Workflow, id string) *WorkflowStep {
	var found *WorkflowStep
	walkSteps(w.Steps, func(st *WorkflowStep) {
		if st.ID == id {
			found = st
		}
	})
	return found
}

// TestWorkflowSeedForm: seed 001's verified payment, with input_mapping and
// output_mapping templates, braced conditions, early termination and a compensation,
// decodes to the model as written; YAML decodes to the same.
func TestWorkflowSeedForm(t *testing.T) {
	cfg, diags := Load("testdata/workflows/verified_payment.cai")
	if len(diags) > 0 {
		t.Fatalf("diagnostics: %v", diags)
	}
	want := &Workflow{
		Name:        "verified_payment",
		Description: "Bitcoin payment with Web5 identity verification and ML fraud detection",
		Triggers:    []WorkflowTrigger{{Kind: "event", Event: "payment.requested"}},
		Timeout:     10 * time.Minute,
		Retry:       &Retry{Attempts: 3, Backoff: BackoffExponential},
		Steps: []*WorkflowStep{
			{
				ID: "verify_sender", Kind: WorkflowCall, Target: "Web5.verify_identity",
				Input:  map[string]any{"did": "{{input.sender_did}}", "verification_method": "biometric"},
				Output: map[string]any{"sender_verified": "{{output.verified}}", "verification_score": "{{output.confidence}}"},
			},
			{
				ID: "fraud_assessment", Kind: WorkflowCall, Target: "ML.assess_fraud_risk",
				Input: map[string]any{
					"sender_did": "{{input.sender_did}}", "recipient_address": "{{input.recipient_address}}", "amount": "{{input.amount}}",
					"sender_verification_score": "{{steps.verify_sender.verification_score}}",
				},
				Output: map[string]any{"risk_score": "{{output.risk_score}}", "risk_factors": "{{output.risk_factors}}"},
			},
			{
				ID: "execute_payment", Kind: WorkflowCall, Target: "Bitcoin.send_transaction",
				Condition: "steps.verify_sender.sender_verified && steps.fraud_assessment.risk_score < 0.7", OnFalse: OnFalseStop,
				Timeout: 30 * time.Second,
				Input: map[string]any{
					"from_address": "{{input.sender_address}}", "to_address": "{{input.recipient_address}}", "amount": "{{input.amount}}",
					"metadata": map[string]any{
						"sender_did": "{{input.sender_did}}", "verification_score": "{{steps.verify_sender.verification_score}}",
						"risk_score": "{{steps.fraud_assessment.risk_score}}",
					},
				},
				Output: map[string]any{"transaction_id": "{{output.txid}}", "status": "{{output.status}}"},
				Compensation: &WorkflowStep{
					ID: "undo:execute_payment", Kind: WorkflowCall, Target: "Bitcoin.cancel_transaction",
					Input: map[string]any{"txid": "{{steps.execute_payment.transaction_id}}"},
				},
			},
			{
				ID: "record_transaction", Kind: WorkflowCall, Target: "Web5.store_transaction_record",
				Condition: "steps.execute_payment.status == 'success'", OnFalse: OnFalseSkip,
				Input: map[string]any{
					"did": "{{input.sender_did}}",
					"transaction_data": map[string]any{
						"bitcoin_txid": "{{steps.execute_payment.transaction_id}}", "amount": "{{input.amount}}",
						"recipient": "{{input.recipient_address}}", "verification_score": "{{steps.verify_sender.verification_score}}",
						"risk_assessment": "{{steps.fraud_assessment}}",
					},
				},
			},
		},
		Output: map[string]any{"transaction_id": "{{steps.execute_payment.transaction_id}}", "recorded": "{{steps.record_transaction.output}}"},
	}
	if len(cfg.Workflows) != 1 {
		t.Fatalf("workflows = %d", len(cfg.Workflows))
	}
	if diff := cmp.Diff(want, cfg.Workflows[0], ignorePos); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if c := cfg.Workflows[0].Steps[2]; c.ConditionPos.Line != 45 || c.ConditionPos.Col != 24 {
		t.Errorf("condition position = %v", c.ConditionPos)
	}
	yaml, diags := Load("testdata/workflows/verified_payment.yaml")
	if len(diags) > 0 {
		t.Fatalf("yaml: %v", diags)
	}
	if diff := cmp.Diff(cfg, yaml, ignorePos); diff != "" {
		t.Errorf("YAML decodes differently (-cai +yaml):\n%s", diff)
	}
}

// TestWorkflowDialects: CodeAI's colon-less form (activity, bare references, compensate,
// a named parallel step) and YAML decode to the same model, every kind of step included.
func TestWorkflowDialects(t *testing.T) {
	const shop = `integration Shop {
    base_url: "https://shop.example.com"
    operation charge { method: POST  path: "/charges"  body: { amount: decimal, order_id: string } }
    operation refund { method: POST  path: "/refunds"  body: { charge_id: string } }
}
`
	colonless := shop + `workflow checkout {
    description "Charge, wait for shipping, then thank"
    trigger event "order.placed"
    trigger schedule "0 6 * * *"
    trigger manual
    timeout "2h"
    retry {
        max_attempts 3
        initial_interval "10s"
        backoff_multiplier 2.0
    }
    steps {
        charge {
            activity "Shop.charge"
            input {
                amount "workflow.input.total"
                order_id "workflow.input.order_id"
            }
            retry: 5 times with exponential_backoff
            timeout 30s
            compensate {
                call "Shop.refund"
                input { charge_id "steps.charge.output.id" }
            }
        }
        notify {
            parallel {
                receipt {
                    emit "order.charged"
                    data {
                        order_id "workflow.input.order_id"
                        charge "steps.charge.output"
                    }
                }
                pause { sleep 5m }
            }
        }
        shipped {
            wait_for "order.shipped"
            match { order_id "workflow.input.order_id" }
            timeout 7d
        }
        summary {
            transform {
                order "workflow.input.order_id"
                tracking "steps.shipped.output.tracking"
                note "thanks"
            }
            if "steps.charge.output.amount > 0"
            on_false stop
        }
        loyalty {
            workflow "award_points"
            input { order_id "workflow.input.order_id" }
        }
    }
    output { tracking "steps.summary.output.tracking" }
}

workflow award_points {
    steps { award { emit "points.awarded"  data { order "{{input.order_id}}" } } }
}
`
	yaml := `integrations:
  Shop:
    base_url: https://shop.example.com
    operations:
      charge: {method: POST, path: /charges, body: {amount: decimal, order_id: string}}
      refund: {method: POST, path: /refunds, body: {charge_id: string}}
workflows:
  checkout:
    description: Charge, wait for shipping, then thank
    trigger:
      - event "order.placed"
      - schedule "0 6 * * *"
      - manual
    timeout: 2h
    retry: {max_attempts: 3, initial_interval: 10s, backoff_multiplier: 2.0}
    steps:
      charge:
        activity: Shop.charge
        input: {amount: workflow.input.total, order_id: workflow.input.order_id}
        retry: 5 times with exponential_backoff
        timeout: 30s
        compensate:
          call: Shop.refund
          input: {charge_id: steps.charge.output.id}
      notify:
        parallel:
          receipt:
            emit: order.charged
            data: {order_id: workflow.input.order_id, charge: steps.charge.output}
          pause: {sleep: 5m}
      shipped:
        wait_for: order.shipped
        match: {order_id: workflow.input.order_id}
        timeout: 7d
      summary:
        transform: {order: workflow.input.order_id, tracking: steps.shipped.output.tracking, note: thanks}
        if: steps.charge.output.amount > 0
        on_false: stop
      loyalty: {workflow: award_points, input: {order_id: workflow.input.order_id}}
    output: {tracking: steps.summary.output.tracking}
  award_points:
    steps:
      award: {emit: points.awarded, data: {order: "{{input.order_id}}"}}
`
	cfg := decodeOK(t, colonless)
	order := "{{workflow.input.order_id}}"
	want := &Workflow{
		Name:        "checkout",
		Description: "Charge, wait for shipping, then thank",
		Triggers:    []WorkflowTrigger{{Kind: "event", Event: "order.placed"}, {Kind: "schedule", Schedule: "0 6 * * *"}, {Kind: "manual"}},
		Timeout:     2 * time.Hour,
		Retry:       &Retry{Attempts: 3, Backoff: BackoffExponential, Initial: 10 * time.Second, Multiplier: 2},
		Steps: []*WorkflowStep{
			{
				ID: "charge", Kind: WorkflowCall, Target: "Shop.charge",
				Input:   map[string]any{"amount": "{{workflow.input.total}}", "order_id": order},
				Retry:   &Retry{Attempts: 5, Backoff: BackoffExponential},
				Timeout: 30 * time.Second,
				Compensation: &WorkflowStep{
					ID: "undo:charge", Kind: WorkflowCall, Target: "Shop.refund",
					Input: map[string]any{"charge_id": "{{steps.charge.output.id}}"},
				},
			},
			{
				ID: "notify", Kind: WorkflowParallel,
				Branches: []*WorkflowStep{
					{ID: "receipt", Kind: WorkflowEmit, Target: "order.charged", Input: map[string]any{"order_id": order, "charge": "{{steps.charge.output}}"}},
					{ID: "pause", Kind: WorkflowSleep, Sleep: 5 * time.Minute},
				},
			},
			{ID: "shipped", Kind: WorkflowWait, Target: "order.shipped", Match: map[string]any{"order_id": order}, Timeout: 7 * 24 * time.Hour},
			{
				ID: "summary", Kind: WorkflowTransform,
				Input:     map[string]any{"order": order, "tracking": "{{steps.shipped.output.tracking}}", "note": "thanks"},
				Condition: "steps.charge.output.amount > 0", OnFalse: OnFalseStop,
			},
			{ID: "loyalty", Kind: WorkflowChild, Target: "award_points", Input: map[string]any{"order_id": order}},
		},
		Output: map[string]any{"tracking": "{{steps.summary.output.tracking}}"},
	}
	if diff := cmp.Diff(want, cfg.Workflow("checkout"), ignorePos); diff != "" {
		t.Errorf("colon-less (-want +got):\n%s", diff)
	}
	if len(cfg.Handlers) != 1 || cfg.Handlers[0].Target != "checkout" || len(cfg.Jobs) != 1 || cfg.Jobs[0].Name != "workflow:checkout" {
		t.Errorf("handlers %+v, jobs %+v", cfg.Handlers, cfg.Jobs)
	}
	got, diags := Decode("t.yaml", []byte(yaml))
	if len(diags) > 0 {
		t.Fatalf("yaml: %v", diags)
	}
	if diff := cmp.Diff(cfg, got, ignorePos); diff != "" {
		t.Errorf("YAML decodes differently (-colon-less +yaml):\n%s", diff)
	}
}

// wfShop opens the configurations of TestWorkflowErrors: what they call and emit.
const wfShop = `integration Shop {
    base_url: "https://shop.example.com"
    operation charge { method: POST  path: "/charges"  body: { amount: decimal, order_id: string } }
    operation refund { method: POST  path: "/refunds"  body: { charge_id: string } }
}
event order.paid { payload { order_id: string } }
`

// TestWorkflowErrors: every mistake is an error at its position (line 7 is the
// workflow), with a suggestion where one is close.
func TestWorkflowErrors(t *testing.T) {
	for _, c := range []struct{ src, want string }{
		// References.
		{`workflow w { steps { charge { call "Shop.charge"  input { amount: "{{steps.chrge.total}}" } } } }`,
			`t.cai:7:67: workflow w step charge input.amount: {{steps.chrge.total}}: step chrge is not declared in workflow w; did you mean "charge"?`},
		{`workflow w { steps { a { call "Shop.charge"  input { amount: "{{steps.b.total}}" } }  b { call "Shop.charge" } } }`,
			`t.cai:7:62: workflow w step a input.amount: {{steps.b.total}}: step b has not completed when this is read: a step refers only to the steps before it (a parallel branch: to the steps before its parallel block)`},
		{`workflow w { steps { first { sleep 1s }  parallel { a { call "Shop.charge" }  b { call "Shop.refund"  input { charge_id: "{{steps.a.id}}" } } } } }`,
			`t.cai:7:122: workflow w step b input.charge_id: {{steps.a.id}}: step a has not completed when this is read`},
		{`workflow w { steps { a { call "Shop.charge"  if "steps.nope.ok == true" } } }`,
			`t.cai:7:49: workflow w step a if: steps.nope.ok: step nope is not declared in workflow w`},
		{`workflow w { steps { a { call "Shop.charge"  if "stpes.a.ok" } } }`,
			`t.cai:7:49: workflow w step a if: stpes.a.ok: unknown name stpes; did you mean "steps"?`},
		{`workflow w { steps { charge { call "Shop.charge" }  b { call "Shop.refund"  input { charge_id: "steps.chrge.id" } } } }`,
			`t.cai:7:96: workflow w step b input.charge_id: "steps.chrge.id" reads as a reference to step chrge, which is not declared; did you mean "charge"?`},
		{`workflow w { steps { a { call "Shop.charge"  input { amount: "{{config.amount}}" } } } }`,
			`t.cai:7:62: workflow w step a input.amount: {{config.amount}}: config values belong to CodeAI's code generation (its config block is not run): write the value itself here`},
		{`workflow w { steps { a { call "Shop.charge"  input { amount: "config.amount" } } } }`,
			`t.cai:7:62: workflow w step a input.amount: "config.amount": config values belong to CodeAI's code generation`},
		{`workflow w { steps { a { call "Shop.charge"  input { amount: "{{output.amount}}" } } } }`,
			`t.cai:7:62: workflow w step a input.amount: {{output.amount}}: output is a step's own result, for its output mapping`},
		{`workflow w { steps { a { call "Shop.charge"  input { amount: "{{workflow.inputs.x}}" } } } }`,
			`t.cai:7:62: workflow w step a input.amount: {{workflow.inputs.x}}: a workflow's own names are workflow.input (its input) and workflow.id (the run's ID)`},
		{`workflow w { steps { a { call "Shop.charge"  input { amount: "{{ steps.b.x + 1 }}" } } } }`,
			`t.cai:7:62: workflow w step a input.amount: {{ steps.b.x + 1 }}: expected a path such as {{input.x}} or {{steps.ID.field}}`},
		{`workflow w { steps { a { call "Shop.charge"  input { amount: "{{inputs.x}}" } } } }`,
			`t.cai:7:62: workflow w step a input.amount: {{inputs.x}}: unknown reference: a reference starts with input, workflow.input, workflow.id, steps.<id> or output; did you mean "input"?`},
		{`workflow w { steps { a { call "Shop.charge" } }  output { total: "{{steps.c.x}}" } }`,
			`t.cai:7:66: workflow w output.total: {{steps.c.x}}: step c is not declared in workflow w`},
		// Steps.
		{`workflow w { steps { a { call "Shop.charge" }  a { call "Shop.refund" } } }`,
			`t.cai:7:48: workflow w: step ID a is used twice (first at line 7)`},
		{`workflow w { steps { a { call "Shop.charge"  emit "order.paid" } } }`,
			`t.cai:7:46: workflow w step a: emit and call: a step does one thing (first at line 7)`},
		{`workflow w { steps { a { wait_for "order.paid"  match { order_id: "{{input.id}}" } } } }`,
			`t.cai:7:26: workflow w step a: wait_for needs a timeout: how long to wait for the event (such as timeout 24h)`},
		{`workflow w { steps { a { input { x: 1 } } } }`,
			`t.cai:7:22: workflow w step a: missing what it does: call "Integration.operation", emit "event.type", wait_for "event.type", sleep DURATION, transform { … }, workflow "name", plugin "name.function" or parallel { … }`},
		{`workflow w { steps { a { sleep 1m  input { x: 1 } } } }`,
			`t.cai:7:36: workflow w step a: input does not go with sleep (it goes with call, emit, workflow, plugin)`},
		{`workflow w { steps { a { sleep 1m  on_false stop } } }`,
			`t.cai:7:36: workflow w step a: on_false goes with if "condition"`},
		{`workflow w { steps { a { call "Shop.charge"  input { amount: 1 }  input_mapping { amount: 2 } } } }`,
			`t.cai:7:67: workflow w step a: input_mapping and input are the same setting (first at line 7); give one`},
		{`workflow w { steps { a { activity "Shop.charge"  call "Shop.refund" } } }`,
			`t.cai:7:50: workflow w step a: call and activity are the same setting (first at line 7); give one`},
		{`workflow w { steps { "my step" { sleep 1m } } }`,
			`t.cai:7:22: workflow w: step ID "my step": expected letters, digits and _ (step IDs are written in references: steps.<id>.field)`},
		{`workflow w { steps { a { parallel { b { parallel { c { sleep 1s } } } } } } }`,
			`t.cai:7:41: workflow w step b: parallel blocks do not nest: a branch or compensation is one step`},
		{`workflow w { steps { a { call "Shop.charge"  on_failure { call "Shop.refund"  on_failure { sleep 1s } } } } }`,
			`t.cai:7:79: workflow w step undo:a: a compensation has no compensation of its own`},
		{`workflow w { description "nothing" }`,
			`t.cai:7:1: workflow w: missing steps { ID { call "Integration.operation" … } … }`},
		// What steps name.
		{`workflow w { steps { a { call "Shop.chrge" } } }`,
			`t.cai:7:31: workflow w step a call: integration Shop has no operation "chrge"; did you mean "charge"?`},
		{`workflow w { steps { a { call "Shopp.charge" } } }`,
			`t.cai:7:31: workflow w step a call: integration "Shopp" is not declared; did you mean "Shop"?`},
		{`workflow w { steps { a { call } } }`,
			`t.cai:7:26: call: expected a quoted string, found nothing`},
		{`workflow w { steps { a { call "Shop.charge"  input { amout: 1 } } } }`,
			`t.cai:7:31: workflow w step a input: Shop.charge takes no parameter "amout", so every call would fail (it takes: amount, order_id); did you mean "amount"?`},
		{`workflow w { steps { a { emit "order.payed" } } }`,
			`t.cai:7:31: workflow w step a emit: event "order.payed" is not declared; did you mean "order.paid"?`},
		{`workflow w { steps { a { workflow "nightly" } } }`,
			`t.cai:7:35: workflow w step a workflow: workflow "nightly" is not declared (workflow nightly { … })`},
		{`workflow w { steps { a { workflow "w" } } }`,
			`t.cai:7:35: workflow w step a workflow: a workflow cannot start itself`},
		// Triggers.
		{`workflow w { trigger schedule "61 * * * *"  steps { a { sleep 1m } } }`,
			`t.cai:7:31: trigger schedule: invalid cron expression "61 * * * *": `},
		{`workflow w { trigger schedule "0 * * * *"  trigger schedule "5 * * * *"  steps { a { sleep 1m } } }`,
			`t.cai:7:44: workflow w: one schedule trigger per workflow (first at line 7)`},
		{`workflow w { trigger event "order.payed"  steps { a { sleep 1m } } }`,
			`t.cai:7:14: workflow w trigger event: event "order.payed" is not declared; did you mean "order.paid"?`},
		{`workflow w { trigger sometimes "x"  steps { a { sleep 1m } } }`,
			`t.cai:7:14: trigger: expected event "type", schedule "cron expression" or manual, found sometimes "x"`},
		{"workflow w { steps { a { sleep 1m } } }\nworkflow w { steps { b { sleep 1m } } }",
			`t.cai:8:1: workflow w is declared twice (first at t.cai:7:1)`},
	} {
		_, diags := Decode("t.cai", []byte(wfShop+c.src))
		errs := diagStrings(diags.Filter(SeverityError))
		if len(errs) != 1 || !strings.HasPrefix(errs[0], c.want) {
			t.Errorf("%s:\n got %q\nwant %s…", c.src, errs, c.want)
		}
	}
}

// TestWorkflowOfGeneratedApplication: a workflow none of whose activities is of a
// declared integration is CodeAI's: what it refers to is not checked, and a handler,
// job or step that starts it is an error that says why it is not run.
func TestWorkflowOfGeneratedApplication(t *testing.T) {
	src := wfShop + `workflow generated {
    trigger event "order.paid"
    steps { a { activity "orders.validate"  input { id: "config.x" } } }
}
workflow w { steps { start { workflow "generated" } } }
job j { every 1h  workflow "generated" }
on "order.paid" do workflow "generated"
`
	cfg, diags := Decode("t.cai", []byte(src))
	reason := `activities such as "orders.validate" name no declared integration: they are functions of a CodeAI-generated application (code generation); declare integrations with those operations for Junction to call them`
	want := []string{
		`t.cai:7:1: warning: 1 workflow of generated-application activities (generated) is not run: ` + reason,
		`t.cai:11:39: workflow w step start workflow: workflow "generated" is not run: ` + reason,
		`t.cai:12:1: job j workflow: workflow "generated" is not run: ` + reason,
		`t.cai:13:29: on "order.paid" do workflow: workflow "generated" is not run: ` + reason,
	}
	if diff := cmp.Diff(want, diagStrings(diags)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	// Its trigger's handler went with it.
	if len(cfg.Handlers) != 1 || cfg.Handlers[0].Trigger {
		t.Errorf("handlers = %+v", cfg.Handlers)
	}

	// CodeAI's other workflows run actions of their application: also code generation.
	_, diags = Decode("t.cai", []byte(`workflow OrderProcessing {
    trigger: OrderPlaced
    steps { confirm { action: update(order.status = "confirmed") } }
    on_complete: emit(OrderConfirmed)
}`))
	if got := diagStrings(diags); len(got) != 1 || !strings.HasPrefix(got[0], "t.cai:1:1: warning: 1 workflow of generated-application actions (OrderProcessing) is not run: steps with action, for_each or check") {
		t.Errorf("diagnostics = %q", got)
	}
}

// TestWorkflowAcrossFiles: a workflow may call integrations declared in another file.
// Load checks its references once it knows; Merge tells CodeAI's workflows apart and
// reports them, since no single file could.
func TestWorkflowAcrossFiles(t *testing.T) {
	dir := t.TempDir()
	shop, flow := filepath.Join(dir, "shop.cai"), filepath.Join(dir, "w.cai")
	if err := os.WriteFile(shop, []byte(wfShop), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(flow, []byte(`workflow w { steps { a { call "Shop.charge"  input { amount: "{{steps.b.x}}" } } } }`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, diags := Load(flow, shop)
	if got := diagStrings(diags); len(got) != 1 || !strings.HasPrefix(got[0], flow+":1:62: workflow w step a input.amount: {{steps.b.x}}: step b is not declared") {
		t.Errorf("diagnostics = %q", got)
	}

	a, _ := DecodePart("w.cai", []byte(`workflow w { trigger event "order.paid"  steps { a { call "Shop.charge" } } }`))
	b, _ := DecodePart("shop.cai", []byte(wfShop))
	merged, diags := Merge(a, b)
	if len(diags) > 0 || len(merged.Workflows) != 1 || len(merged.Handlers) != 1 {
		t.Errorf("merged: %d workflows, %d handlers, %v", len(merged.Workflows), len(merged.Handlers), diags)
	}
	c, _ := DecodePart("c.cai", []byte(`workflow generated { steps { a { activity "orders.validate" } } }`))
	merged, diags = Merge(c, b)
	if got := diagStrings(diags); len(merged.Workflows) != 0 || len(got) != 1 || !strings.HasPrefix(got[0], "c.cai:1:1: warning: 1 workflow of generated-application activities (generated) is not run") {
		t.Errorf("merged: %d workflows, %q", len(merged.Workflows), got)
	}
}

// TestWorkflowSinkReference: a flow sink of a workflow connector names a declared
// workflow, whether the sink or the connector says which.
func TestWorkflowSinkReference(t *testing.T) {
	for _, c := range []struct{ connector, sink, want string }{
		{``, `workflow: "ww"`, `t.cai:6:35: flow f sink start: workflow "ww" is not declared (workflow ww { … }); did you mean "w"?`},
		{`workflow: "nope"`, ``, `t.cai:1:34: flow f sink start: workflow "nope" is not declared`},
		{``, `workflow: "w"`, ``},
	} {
		src := `connector runs { type: workflow  ` + c.connector + ` }
connector inbox { type: http }
workflow w { steps { a { transform { x: 1 } } } }
flow f {
    source { connector: inbox  path: "orders" }
    sink start { connector: runs  ` + c.sink + ` }
}`
		_, diags := Decode("t.cai", []byte(src))
		got := ""
		if err := diags.Err(); err != nil {
			got = err.Error()
		}
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("connector {%s} sink {%s}: got %q, want %q", c.connector, c.sink, got, c.want)
		}
	}
}
