package main

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/junctionhq/junction/internal/fixtures"
)

// TestValidateCodeAIExamples runs `junction validate` on each of the public CodeAI
// project's examples: each loads (exit 0, only warnings and notes), and what Junction
// does not run is reported once per kind.
func TestValidateCodeAIExamples(t *testing.T) {
	dir := fixtures.Path(t, "fixtures/codeai-examples")
	// Two files hand events to workflows and an operation they never declare. Unknown
	// references are errors, so these — and nothing else — are expected.
	referenceErrors := map[string][]string{
		"10-events-integrations_events.cai": {
			`:70:31: on "user.created" do workflow: workflow "send_welcome_email" is not declared`,
			`:73:34: on "user.created" do integration: integration analytics has no operation "track"`,
			`:76:31: on "order.placed" do workflow: workflow "process_order" is not declared`,
		},
		"complete_app.cai": {
			`:306:31: on "user.created" do workflow: workflow "send_welcome_email" is not declared`,
			`:309:34: on "user.created" do integration: integration analytics has no operation "track"`,
			`:312:32: on "order.created" do workflow: workflow "process_order" is not declared`,
			`:324:35: on "refund.requested" do workflow: workflow "process_refund" is not declared`,
		},
	}
	// One warning per kind, at its first block: "N KIND blocks (…) are …".
	perKind := map[string][]string{
		"02-blog-api_blog-api.cai":             {"4 entity blocks", "26 endpoint blocks", "1 publish_to kafka(…) target"},
		"03-ecommerce_ecommerce.cai":           {"11 entity blocks", "3 workflows of generated-application actions", "4 publish_to slack(…) targets", "1 entity trigger"},
		"05-scheduled-jobs_scheduled-jobs.cai": {"10 steps jobs"},
		"08-with-auth_with_auth.cai":           {"4 auth provider blocks", "5 role blocks", "7 middleware blocks", "1 database block"},
		"09-workflows_with_workflows.cai":      {"4 workflows of generated-application activities", "7 task jobs"},
		"11-endpoints_with_endpoints.cai":      {"19 endpoint blocks"},
		"12-codegen-api_app.cai":               {"1 auth provider block"},
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.cai"))
	if err != nil || len(files) != 15 {
		t.Fatalf("want the 15 examples, found %d (%v)", len(files), err)
	}
	diagnostic := regexp.MustCompile(`^` + regexp.QuoteMeta(dir) + `/[^:]+:\d+:\d+: `)
	warning := regexp.MustCompile(`^[^ ]+:\d+:\d+: warning: (\d+ .+?) (?:\(|is |are )`)
	for _, file := range files {
		name := filepath.Base(file)
		t.Run(name, func(t *testing.T) {
			out, _, code := run(t, t.TempDir(), nil, "validate", file)
			wantErrs := referenceErrors[name]
			if wantCode := min(len(wantErrs), 1); code != wantCode {
				t.Errorf("exit %d, want %d:\n%s", code, wantCode, out)
			}
			var errs []string
			kinds := map[string]int{}
			for line := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
				switch {
				case strings.HasPrefix(line, file+": ok: ") || line == file+": 3 errors" || line == file+": 4 errors":
				case !diagnostic.MatchString(line):
					t.Errorf("not a diagnostic: %s", line)
				case strings.Contains(line, ": warning: ") || strings.Contains(line, ": note: "):
					if m := warning.FindStringSubmatch(line); m != nil && strings.Contains(line, " not run") {
						kinds[m[1]]++
					}
				default:
					errs = append(errs, strings.TrimPrefix(line, file))
				}
			}
			if len(errs) != len(wantErrs) {
				t.Errorf("errors %q, want %q", errs, wantErrs)
			}
			for i, e := range errs {
				if i < len(wantErrs) && !strings.HasPrefix(e, wantErrs[i]) {
					t.Errorf("error %q, want %q", e, wantErrs[i])
				}
			}
			for kind, n := range kinds {
				if n != 1 {
					t.Errorf("%d warnings for %q, want one per kind", n, kind)
				}
			}
			for _, want := range perKind[name] {
				if kinds[want] != 1 {
					t.Errorf("no single warning %q among %v", want, kinds)
				}
			}
		})
	}
}
