/* index.html: one self-contained page (inline CSS, SVG and JS; nothing fetched, so it opens
 * offline and from a CI artifact). The heatmaps are SVG written here, so they show without
 * JavaScript; hovering a cell shows its <title>; clicking it fills the details panel from the
 * results embedded as JSON (the matrix.json schema plus each run's log_files). */
#include <errno.h>
#include <string.h>

#include "report/report.h"
#include "report/report_internal.h"
#include "report/events.h"
#include "report/sweep.h"

#define CELL_W 60
#define CELL_H 42
#define CELL_GAP 3
#define CHAR_W 7.0 /* average width of a 12px sans-serif character, for the label room */

static void html_text(FILE *f, const char *s)
{
	report_escape_markup(f, s, MARKUP_HTML);
}

static const char *outcome_class(enum cell_outcome o)
{
	return (unsigned)o < CELL_OUTCOME_COUNT ? cell_outcome_name(o) : "error";
}

static const char style[] =
	":root{--direct:#2b8a3e;--relayed:#f2c744;--failed:#d9480f;--disputed:#000;--error:#9c36b5;"
	"--skipped:#ced4da;--ink:#212529;--muted:#6c757d;--line:#dee2e6;--bg:#f8f9fa}\n"
	"*{box-sizing:border-box}\n"
	"body{margin:0;font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;"
	"color:var(--ink);background:#fff}\n"
	"header{padding:16px 24px 8px;border-bottom:1px solid var(--line);background:var(--bg)}\n"
	"h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:22px 0 8px}"
	"h3{font-size:15px;margin:14px 0 6px}\n"
	".meta{color:var(--muted);margin:0}\n"
	".banner{margin:10px 24px 0;padding:8px 12px;border-radius:6px;background:#f3d9fa;"
	"border:1px solid var(--error);font-weight:600}\n"
	".chips{display:flex;flex-wrap:wrap;gap:8px;padding:12px 24px 0}\n"
	".chip{border:1px solid var(--line);border-radius:16px;padding:3px 12px;background:#fff}\n"
	".chip b{font-size:15px}.chip.bad{border-color:var(--failed);background:#fff4e6}"
	".chip.err{border-color:var(--error);background:#f8f0fc}\n"
	".groups{display:flex;flex-wrap:wrap;gap:0 40px}\n"
	".layout{display:flex;gap:24px;padding:0 24px 24px;align-items:flex-start}\n"
	"main{flex:1 1 auto;min-width:0}\n"
	"aside{flex:0 0 400px;position:sticky;top:12px;max-height:calc(100vh - 24px);"
	"overflow:auto;border:1px solid var(--line);border-radius:8px;padding:12px 14px;"
	"margin-top:22px;background:var(--bg)}\n"
	"aside .hint{color:var(--muted)}\n"
	".legend{display:flex;flex-wrap:wrap;gap:6px 16px;align-items:center;margin-top:14px;"
	"color:var(--ink)}\n"
	".sw{display:inline-block;width:14px;height:14px;border-radius:3px;vertical-align:-2px;"
	"margin-right:4px}\n"
	".abbr{color:var(--muted);margin-top:6px}\n"
	"svg.heat{display:block;max-width:100%;height:auto}\n"
	"svg .cell{cursor:pointer}svg .cell:hover rect,svg .cell:focus rect{filter:brightness(1.12);"
	"stroke:#000;stroke-width:2}\n"
	"svg .f-direct{fill:var(--direct)}svg .f-relayed{fill:var(--relayed)}svg .f-failed{"
	"fill:var(--failed)}svg .f-error{fill:var(--error)}svg .f-skipped{fill:var(--skipped)}\n"
	"svg .cell.sel rect{stroke:#1c7ed6;stroke-width:4}\n"
	"svg .sym{font:700 16px system-ui,sans-serif;pointer-events:none}\n"
	"svg .mk{font:700 11px system-ui,sans-serif;pointer-events:none}\n"
	"svg .lbl{font:12px system-ui,sans-serif;fill:var(--ink)}\n"
	"svg .ax{font:italic 11px system-ui,sans-serif;fill:var(--muted)}\n"
	"table{border-collapse:collapse;margin:4px 0 8px;width:100%}\n"
	"th,td{border:1px solid var(--line);padding:4px 8px;text-align:left;vertical-align:top}\n"
	"th{background:var(--bg)}\n"
	"td.o{white-space:nowrap}\n"
	".b{display:inline-block;padding:0 7px;border-radius:9px;font-weight:600;color:#fff}\n"
	".b.direct{background:var(--direct)}.b.relayed{background:var(--relayed);color:#000}"
	".b.failed{background:var(--failed)}.b.error{background:var(--error)}"
	".b.skipped{background:var(--skipped);color:#000}\n"
	".v{display:inline-block;padding:0 7px;margin:2px 4px 2px 0;border-radius:9px;"
	"border:1px solid var(--muted);font-size:12px}\n"
	".v.regression{border-color:var(--failed);color:var(--failed);font-weight:700}\n"
	"a.cid{font-family:ui-monospace,monospace;font-size:12.5px}\n"
	"code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12.5px}\n"
	"pre{background:#fff;border:1px solid var(--line);padding:6px 8px;margin:4px 0;"
	"white-space:pre-wrap;word-break:break-all}\n"
	"dl{display:grid;grid-template-columns:125px 1fr;gap:3px 10px;margin:6px 0}"
	"dt{color:var(--muted)}dd{margin:0}\n"
	".dis{font-weight:700;color:var(--failed)}\n"
	".run{border-top:1px solid var(--line);padding-top:6px;margin-top:8px}\n"
	"q{font-style:italic}\n"
	"@media (max-width:1100px){.layout{flex-direction:column}aside{position:static;"
	"width:100%;flex:none}}\n";

/* The details panel, filled from the embedded results. Text goes in with textContent only:
 * reasons and mappings come from programs and files, never markup. */
static const char script[] =
	"(function(){\n"
	"'use strict';\n"
	"var data=JSON.parse(document.getElementById('matrix-data').textContent);\n"
	"var cells={};data.cells.forEach(function(c){cells[c.id]=c;});\n"
	"var panel=document.getElementById('details');\n"
	"function el(tag,cls,text){var e=document.createElement(tag);if(cls)e.className=cls;"
	"if(text!==undefined&&text!==null)e.textContent=String(text);return e;}\n"
	"function badge(o){return el('span','b '+o,o);}\n"
	"function ms(v){return v===null||v===undefined?'-':(Math.round(v*10)/10)+' ms';}\n"
	"function href(dir,file){return dir.split('/').map(encodeURIComponent).join('/')+'/'+"
	"(file?encodeURIComponent(file):'');}\n"
	"function row(dl,k,v,cls){dl.appendChild(el('dt',null,k));var d=el('dd',cls);"
	"if(v instanceof Node)d.appendChild(v);else d.textContent=v;dl.appendChild(d);return d;}\n"
	"function ref(o,extra,dis){var s=el('span');s.appendChild(badge(o));"
	"if(dis)s.appendChild(el('span','dis',' disagrees'));"
	"if(extra){s.appendChild(document.createElement('br'));s.appendChild(extra);}return s;}\n"
	"function show(id){\n"
	" var c=cells[id];if(!c)return;\n"
	" document.querySelectorAll('.cell.sel').forEach(function(g){g.classList.remove('sel');});\n"
	" document.querySelectorAll('.cell').forEach(function(g){"
	"if(g.getAttribute('data-id')===id)g.classList.add('sel');});\n"
	" panel.textContent='';\n"
	" panel.appendChild(el('h3',null,c.id));\n"
	" var dl=el('dl');panel.appendChild(dl);\n"
	" var m=el('span');m.appendChild(badge(c.outcome));\n"
	" if(c.runs.length>1)m.appendChild(el('span',null,' '+Math.round(c.success_rate*100)+"
	"'% direct over '+c.runs.length+' runs'));\n"
	" row(dl,'measured',m);\n"
	" row(dl,'time to connect',c.runs.length>1?'p50 '+ms(c.ttc_p50_ms)+', p95 '+"
	"ms(c.ttc_p95_ms):ms(c.time_to_connect_ms));\n"
	" if(c.ttfb_p50_ms!=null&&c.ttfb_p50_ms>=0)row(dl,'first byte',c.runs.length>1?'p50 '+"
	"ms(c.ttfb_p50_ms)+', p95 '+ms(c.ttfb_p95_ms):ms(c.ttfb_p50_ms));\n"
	" var r=c.refs,v=c.verdict;\n"
	" var cs=r.claims&&r.claims.length?r.claims:(r.claim?[r.claim]:[]);if(!cs.length)"
	"row(dl,'documents','none (no document speaks of this cell)');cs.forEach(function(k){"
	"var q=el('span');q.appendChild(el('span',null,(k.strength?k.strength+' \\u2014 ':'')+"
	"k.source+': '));q.appendChild(el('q',null,k.quote));if(k.disagrees)q.appendChild(el("
	"'span',null,' why: '+(k.explanation||'not explained')));row(dl,'documents',ref("
	"k.outcome,q,k.disagrees===undefined?v.disagrees_claim:k.disagrees));});\n"
	" row(dl,'theory',ref(r.theory.outcome,el('span',null,r.theory.why),v.disagrees_theory));\n"
	" row(dl,'baseline',r.baseline?badge(r.baseline):'none');\n"
	" var ex=(r.expected.allowed.join(' | ')||'-')+' ('+r.expected.class+')'+(r.expected.rate>0?"
	"', rate '+Math.round(r.expected.rate*100)+'% tested over '+r.expected.runs+' runs: '+"
	"(v.rate_low?'TOO LOW':'consistent')+', p = '+v.rate_p_value.toPrecision(3):'');\n"
	" if(r.expected.reason)ex+=' \\u2014 '+r.expected.reason;\n"
	" if(r.expected.families)row(dl,'family',(v.family_wrong?'WRONG: ':'')+'expected IPv'+"
	"r.expected.families+', attested: '+c.runs.map(function(x){return x.attestation.family?"
	"'IPv'+x.attestation.family:'-';}).join(', '));\n"
	" row(dl,'expected',ex);\n"
	" var vs=el('span');['regression','improvement','disputed','flaky','rate_low','disagrees_claim',"
	"'disagrees_theory','error','family_wrong'].forEach(function(k){if(v[k])vs.appendChild(el('span',"
	"'v '+k,k.replace('_',' ')));});if(!vs.childNodes.length)vs.textContent='none';\n"
	" row(dl,'verdicts',vs);\n"
	" panel.appendChild(el('div',null,'rerun:'));panel.appendChild(el('pre',null,c.rerun));\n"
	" c.runs.forEach(function(run,i){\n"
	"  var d=el('div','run');panel.appendChild(d);\n"
	"  var h=el('div');h.appendChild(el('b',null,'run '+(i+1)+' '));h.appendChild(badge(run.outcome));\n"
	"  if(run.technique_used)h.appendChild(el('span',null,' via '+run.technique_used));\n"
	"  if(run.family)h.appendChild(el('span',null,' over IPv'+run.family));\n"
	"  d.appendChild(h);var rl=el('dl');d.appendChild(rl);\n"
	"  row(rl,'time to connect',ms(run.time_to_connect_ms));row(rl,'attempts',run.attempts);\n"
	"  if(run.ttfb_ms!=null&&run.ttfb_ms>=0)row(rl,'first byte',ms(run.ttfb_ms));\n"
	"  if(run.time_to_direct_ms!=null&&run.time_to_direct_ms>=0)row(rl,'time to direct',"
	"ms(run.time_to_direct_ms));\n"
	"  row(rl,'cell took',ms(run.wall_ms));\n"
	"  if(run.phase)row(rl,'phase',run.phase);\n"
	"  if(run.reason)row(rl,'reason',run.reason);\n"
	"  if(run.attestation){row(rl,'engine said',run.engine_said);"
	"row(rl,'lab attests',run.attestation.verdict+(run.attestation.summary?' \u2014 '+"
	"run.attestation.summary:''));if(run.attestation.evidence.length){d.appendChild(el('div',"
	"null,'evidence (conntrack accounting, packets and bytes original/reply):'));"
	"d.appendChild(el('pre',null,run.attestation.evidence.join('\\n')));}}\n"
	"  if(run.mappings.length){d.appendChild(el('div',null,'NAT mappings (conntrack):'));"
	"d.appendChild(el('pre',null,run.mappings.join('\\n')));}\n"
	"  if(run.captures&&run.captures.length){var pc=el('div');pc.appendChild(el('span',null,"
	"'packet captures (tcpdump -r, tshark -r): '));run.captures.forEach(function(f,i){"
	"var nm=f.split(' ')[0];if(i)pc.appendChild(el('span',null,' \\u00b7 '));"
	"var a=el('a',null,f);a.href=href(run.log_dir,nm);pc.appendChild(a);});d.appendChild(pc);}\n"
	"  if(run.log_dir){var l=el('div');l.appendChild(el('span',null,'logs: '));"
	"var a=el('a',null,run.log_dir+'/');a.href=href(run.log_dir);l.appendChild(a);\n"
	"   (run.log_files||[]).forEach(function(f){l.appendChild(el('span',null,' \\u00b7 '));"
	"var b=el('a',null,f);b.href=href(run.log_dir,f);l.appendChild(b);});d.appendChild(l);}\n"
	" });\n"
	" if(location.hash!=='#'+id)history.replaceState(null,'','#'+id);\n"
	"}\n"
	"document.querySelectorAll('[data-id]').forEach(function(g){\n"
	" g.addEventListener('click',function(e){e.preventDefault();show(g.getAttribute('data-id'));});\n"
	" g.addEventListener('keydown',function(e){if(e.key==='Enter'||e.key===' '){e.preventDefault();"
	"show(g.getAttribute('data-id'));}});\n"
	"});\n"
	"if(location.hash.length>1)show(decodeURIComponent(location.hash.slice(1)));\n"
	"})();\n";

static void html_header(FILE *f, const struct results *r, const struct results_summary *s)
{
	const struct results_meta *m = &r->meta;
	struct {
		const char *label;
		int n;
		const char *cls;
	} chips[] = {
		{ "cells", s->cells, "" },
		{ "direct", s->direct, "" },
		{ "relayed", s->relayed, "" },
		{ "failed", s->failed, "" },
		{ "error", s->error, s->error ? "err" : "" },
		{ "skipped", s->skipped, "" },
		{ "regressions", s->regressions, s->regressions ? "bad" : "" },
		{ "improvements", s->improvements, "" },
		{ "flaky", s->flaky, s->flaky ? "bad" : "" },
		{ "disagree with the documents", s->disagree_claim, "" },
		{ "disagree with the theory", s->disagree_theory, "" },
	};

	fputs("<header><h1>punchlab matrix</h1><p class=\"meta\">engine ", f);
	char engines[800];
	report_engine_label(m, engines, sizeof(engines));
	html_text(f, engines);
	fputs(" &middot; harness ", f);
	html_text(f, m->harness_version);
	fputs(" &middot; kernel ", f);
	html_text(f, m->kernel[0] ? m->kernel : "?");
	fputs(" &middot; nft ", f);
	html_text(f, m->nft_version[0] ? m->nft_version : "?");
	fputs(" &middot; host ", f);
	html_text(f, m->host[0] ? m->host : "?");
	fputs("<br>started ", f);
	html_text(f, m->started[0] ? m->started : "?");
	fprintf(f, " &middot; %.1f s &middot; jobs %d &middot; repeat %d &middot; stagger %d ms",
		m->wall_ms / 1000, m->jobs, m->repeat, m->stagger_ms);
	if (m->shard[0]) {
		fputs(" &middot; shard ", f);
		html_text(f, m->shard);
	}
	fputs(" &middot; baseline ", f);
	html_text(f, m->baseline[0] ? m->baseline : "none");
	fprintf(f, " &middot; exit code %d</p></header>\n", results_exit_code(r));
	if (m->incomplete)
		fputs("<div class=\"banner\">Incomplete: the run was interrupted; cells that did not "
		      "run are missing.</div>\n", f);
	fputs("<div class=\"chips\">", f);
	for (size_t i = 0; i < sizeof(chips) / sizeof(chips[0]); i++)
		fprintf(f, "<span class=\"chip %s\"><b>%d</b> %s</span>", chips[i].cls, chips[i].n,
			chips[i].label);
	fputs("</div>\n", f);
}

static void html_legend(FILE *f, const struct report_groups *gs)
{
	static const enum cell_outcome order[] = {
		CELL_DIRECT, CELL_RELAYED, CELL_FAILED, CELL_DISPUTED, CELL_ERROR, CELL_SKIPPED,
	};

	fputs("<div class=\"legend\">", f);
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		fprintf(f, "<span><span class=\"sw\" style=\"background:var(--%s)\"></span>%c %s</span>",
			cell_outcome_name(order[i]), report_outcome_symbol(order[i]),
			cell_outcome_name(order[i]));
	fputs("<span>markers: <b>!</b> regression (thick outline) &middot; <b>+</b> improvement (dashed outline) "
	      "&middot; <b>~</b> flaky &middot; <b>c</b> disagrees with the documents' claim "
	      "&middot; <b>t</b> disagrees with the theory &middot; <b>f</b> a dual cell took a "
	      "family the theory calls not direct (D6 / D4: the family the lab attested) (top "
	      "right of a cell; a percentage is the share of direct runs)</span></div>\n", f);
	fputs("<div class=\"abbr\">Profile A down, profile B across. Click a cell for its details; "
	      "hover for a summary.", f);
	if (gs->nnames)
		fputs(" Profiles:", f);
	for (int i = 0; i < gs->nnames; i++) {
		fputs(i ? ", " : " ", f);
		html_text(f, gs->names[i]);
	}
	fputs(".</div>\n", f);
}

static void html_tooltip(FILE *f, const struct cell_result *c)
{
	char buf[240], expected[96];

	html_text(f, c->spec.id);
	snprintf(buf, sizeof(buf), "\nmeasured: %s", cell_outcome_name(c->outcome));
	html_text(f, buf);
	if (c->nruns > 1) {
		snprintf(buf, sizeof(buf), " (%.0f%% direct over %d runs)", c->success_rate * 100,
			 c->nruns);
		html_text(f, buf);
	}
	if (c->ttc_p50_ms >= 0) {
		snprintf(buf, sizeof(buf), ", connected in %.1f ms", c->ttc_p50_ms);
		html_text(f, buf);
	}
	if (c->refs.has_claim) {
		snprintf(buf, sizeof(buf), "\ndocuments: %s%s (", cell_outcome_name(c->refs.claim),
			 c->verdict.disagrees_claim ? " - disagrees" : "");
		html_text(f, buf);
		html_text(f, c->refs.claim_source);
		html_text(f, c->refs.claims_conflict ? "; the documents conflict)" : ")");
	} else {
		html_text(f, "\ndocuments: none");
	}
	snprintf(buf, sizeof(buf), "\ntheory: %s%s", cell_outcome_name(c->refs.theory),
		 c->verdict.disagrees_theory ? " - disagrees" : "");
	html_text(f, buf);
	report_expected_format(&c->refs, expected, sizeof(expected));
	snprintf(buf, sizeof(buf), "\n%s%s%s%s", expected, c->verdict.regression ? "\nREGRESSION" : "",
		 c->verdict.improvement ? "\nimprovement" : "", c->verdict.flaky ? "\nflaky" : "");
	html_text(f, buf);
	report_family_text(c, buf, sizeof(buf));
	if (buf[0]) {
		html_text(f, "\n");
		html_text(f, buf);
	}
	if (c->outcome != CELL_DIRECT) {
		const struct cell_run *rep = report_representative_run(c);
		if (rep && rep->reason[0]) {
			html_text(f, "\nreason: ");
			html_text(f, rep->reason);
		}
	}
}

static void html_svg_cell(FILE *f, const struct cell_result *c, double x, double y)
{
	const char *fg = c->outcome == CELL_RELAYED || c->outcome == CELL_SKIPPED ? "#000" : "#fff";
	char markers[8];

	report_cell_markers(c, markers);
	fputs("<g class=\"cell\" tabindex=\"0\" role=\"button\" data-id=\"", f);
	html_text(f, c->spec.id);
	fputs("\"><title>", f);
	html_tooltip(f, c);
	fprintf(f, "</title><rect x=\"%.1f\" y=\"%.1f\" width=\"%d\" height=\"%d\" rx=\"4\" "
		"class=\"f-%s\"", x, y, CELL_W, CELL_H, outcome_class(c->outcome));
	if (c->verdict.regression)
		fputs(" stroke=\"#000\" stroke-width=\"4\"", f);
	else if (c->verdict.improvement)
		fputs(" stroke=\"#000\" stroke-width=\"3\" stroke-dasharray=\"5 3\"", f);
	/* a dual cell's attested family after the symbol: D6, D4 */
	fprintf(f, "/><text class=\"sym\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"%s\">%c"
		"%s</text>", x + CELL_W / 2.0, y + (c->nruns > 1 ? 21 : 27), fg,
		report_outcome_symbol(c->outcome), report_cell_family(c));
	if (c->nruns > 1)
		fprintf(f, "<text class=\"mk\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"%s\">"
			"%.0f%%</text>", x + CELL_W / 2.0, y + 36, fg, c->success_rate * 100);
	if (markers[0])
		fprintf(f, "<text class=\"mk\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" fill=\"%s\">%s"
			"</text>", x + CELL_W - 4, y + 12, fg, markers);
	fputs("</g>\n", f);
}

static int max_len(const char **names, int n, const struct report_groups *gs, bool abbrev)
{
	int m = 1;

	for (int i = 0; i < n; i++) {
		int l = (int)strlen(abbrev ? report_abbrev(gs, names[i]) : names[i][0] ? names[i] :
				    "(no NAT)");
		if (l > m)
			m = l;
	}
	return m;
}

static void html_group(FILE *f, const struct results *r, const struct report_groups *gs,
		       const struct report_group *g)
{
	int rows_len = max_len(g->rows, g->nrows, gs, false);
	/* at least the room of the "A / B" axis label */
	double left = 16 + CHAR_W * (rows_len > 9 ? rows_len : 9);
	/* column names at -40 degrees need about 0.65 of their length upwards */
	double top = 16 + 0.64 * CHAR_W * max_len(g->cols, g->ncols, gs, false);
	/* the last column's name leans right past the grid by about 0.77 of its length */
	double width = left + g->ncols * (CELL_W + CELL_GAP) + 12 +
		       0.77 * CHAR_W * max_len(g->cols + (g->ncols - 1), 1, gs, false);
	double height = top + g->nrows * (CELL_H + CELL_GAP) + 8;

	fputs("<section class=\"group\"><h2>", f);
	html_text(f, g->topology);
	fputs(" &middot; ", f);
	html_text(f, g->proto);
	fputs(" &middot; ", f);
	html_text(f, g->technique);
	if (g->impair[0]) {
		fputs(" &middot; impair=", f);
		html_text(f, g->impair);
	}
	if (g->outer[0]) {
		fputs(" &middot; outer=", f);
		html_text(f, g->outer);
	}
	if (g->family != CELL_FAMILY_4) {
		char fam[CELL_REF_MAX + 40];
		report_group_family(g, fam, sizeof(fam));
		fputs(" &middot;", f);
		html_text(f, fam);
	}
	fprintf(f, "</h2>\n<svg class=\"heat\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
		"role=\"img\" aria-label=\"", width, height, width, height);
	html_text(f, g->topology);
	fputc(' ', f);
	html_text(f, g->proto);
	fputc(' ', f);
	html_text(f, g->technique);
	fputs("\">\n", f);
	fprintf(f, "<text class=\"ax\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">A \xe2\x86\x93 "
		"B \xe2\x86\x92</text>\n", left - 8, top - 8);
	for (int j = 0; j < g->ncols; j++) {
		double x = left + j * (CELL_W + CELL_GAP) + CELL_W / 2.0;
		fprintf(f, "<text class=\"lbl\" transform=\"translate(%.1f %.1f) rotate(-40)\">", x,
			top - 8);
		html_text(f, g->cols[j][0] ? g->cols[j] : "(no NAT)");
		fputs("</text>\n", f);
	}
	for (int i = 0; i < g->nrows; i++) {
		double y = top + i * (CELL_H + CELL_GAP);
		fprintf(f, "<text class=\"lbl\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", left - 8,
			y + CELL_H / 2.0 + 4);
		html_text(f, g->rows[i]);
		fputs("</text>\n", f);
		for (int j = 0; j < g->ncols; j++) {
			const struct cell_result *c = report_group_cell(r, g, i, j);
			if (c)
				html_svg_cell(f, c, left + j * (CELL_W + CELL_GAP), y);
		}
	}
	fputs("</svg></section>\n", f);
}

static void html_cell_link(FILE *f, const struct cell_result *c)
{
	fputs("<a class=\"cid\" href=\"#", f);
	html_text(f, c->spec.id);
	fputs("\" data-id=\"", f);
	html_text(f, c->spec.id);
	fputs("\">", f);
	html_text(f, c->spec.id);
	fputs("</a>", f);
}

static void html_badge(FILE *f, enum cell_outcome o)
{
	fprintf(f, "<span class=\"b %s\">%s</span>", outcome_class(o), cell_outcome_name(o));
}

/* Every claim of a cell, each with its strength, a disagreeing one with its explanation. */
static void html_claims(FILE *f, const struct cell_result *c)
{
	struct cell_claim cl[CELL_MAX_CLAIMS];
	int n = report_claims(c, cl);

	if (n == 0)
		fputs("none (no document speaks of this cell)", f);
	for (int i = 0; i < n; i++) {
		fputs(i ? "<br>" : "", f);
		html_badge(f, cl[i].outcome);
		fputs(" ", f);
		html_text(f, cl[i].strength);
		fputs(cl[i].disagrees ? " <span class=\"dis\">disagrees</span>" : "", f);
		fputs("<br>", f);
		html_text(f, cl[i].source);
		fputs(": <q>", f);
		html_text(f, cl[i].quote);
		fputs("</q>", f);
		if (cl[i].disagrees) {
			fputs("<br>why: ", f);
			html_text(f, cl[i].explanation[0] ? cl[i].explanation : "not explained");
		}
	}
}

static void html_findings(FILE *f, const struct results *r)
{
	bool any = false;

	for (int i = 0; i < r->ncells; i++) {
		const struct cell_result *c = &r->cells[i];

		if (!c->verdict.disagrees_claim && !c->verdict.disagrees_theory)
			continue;
		if (!any)
			fputs("<h2 id=\"disagreements\">Disagreements with the documents' claim or the theory</h2>\n<p>Findings "
			      "to explain; they never change the exit code.</p>\n<table><tr><th>Cell</th>"
			      "<th>Measured</th><th>Documents' claim</th><th>Theory</th></tr>\n", f);
		any = true;
		fputs("<tr><td>", f);
		html_cell_link(f, c);
		fputs("</td><td class=\"o\">", f);
		html_badge(f, c->outcome);
		fputs("</td><td>", f);
		html_claims(f, c);
		fputs("</td><td>", f);
		html_badge(f, c->refs.theory);
		fputs(c->verdict.disagrees_theory ? " <span class=\"dis\">disagrees</span>" : "", f);
		fputs("<br>", f);
		html_text(f, c->refs.theory_why);
		fputs("</td></tr>\n", f);
	}
	if (any)
		fputs("</table>\n", f);
}

enum html_pick { HP_REGRESSION, HP_IMPROVEMENT, HP_FLAKY, HP_ERROR, HP_FAILED };

static bool html_picked(const struct cell_result *c, enum html_pick p)
{
	switch (p) {
	case HP_REGRESSION: return c->verdict.regression;
	case HP_IMPROVEMENT: return c->verdict.improvement;
	case HP_FLAKY: return c->verdict.flaky;
	case HP_ERROR: return c->verdict.error || c->outcome == CELL_ERROR;
	case HP_FAILED: return c->outcome == CELL_FAILED && !c->verdict.regression;
	}
	return false;
}

static void html_list(FILE *f, const struct results *r, enum html_pick p, const char *anchor,
		      const char *title)
{
	bool any = false;

	for (int i = 0; i < r->ncells; i++) {
		const struct cell_result *c = &r->cells[i];
		const struct cell_run *rep = report_representative_run(c);
		char expected[96], cmd[REPORT_RERUN_MAX];

		if (!html_picked(c, p))
			continue;
		if (!any) {
			fprintf(f, "<h2 id=\"%s\">%s</h2>\n<table><tr><th>Cell</th><th>Measured</th>"
				"<th>Against</th><th>Reason</th><th>Rerun</th></tr>\n", anchor, title);
		}
		any = true;
		report_expected_format(&c->refs, expected, sizeof(expected));
		report_rerun_command(r, c, cmd, sizeof(cmd));
		fputs("<tr><td>", f);
		html_cell_link(f, c);
		fputs("</td><td class=\"o\">", f);
		html_badge(f, c->outcome);
		if (c->nruns > 1)
			fprintf(f, " %.0f%% of %d", c->success_rate * 100, c->nruns);
		fputs("</td><td>", f);
		html_text(f, expected);
		fputs("</td><td>", f);
		if (rep && rep->phase[0]) {
			html_text(f, rep->phase);
			fputs(": ", f);
		}
		html_text(f, rep ? rep->reason : "");
		fputs("</td><td><code>", f);
		html_text(f, cmd);
		fputs("</code></td></tr>\n", f);
	}
	if (any)
		fputs("</table>\n", f);
}

int report_html_write(const struct results *r, FILE *f, const char *report_dir)
{
	struct json_writer w = { .f = f, .pretty = false, .html = true };
	struct results_summary s;
	struct report_groups gs;
	int ret;

	ret = report_groups_build(r, &gs);
	if (ret < 0)
		goto out;
	results_summarize(r, &s);
	fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
		"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
		"<title>punchlab matrix: %d cells, %d regression%s</title>\n<style>\n%s</style>\n"
		"</head><body>\n", s.cells, s.regressions, s.regressions == 1 ? "" : "s", style);
	html_header(f, r, &s);
	fputs("<div class=\"layout\"><main>\n", f);
	html_legend(f, &gs);
	fputs("<div class=\"groups\">\n", f);
	for (int i = 0; i < gs.n; i++)
		html_group(f, r, &gs, &gs.g[i]);
	fputs("</div>\n", f);
	report_sweeps_html(f, r);
	report_events_write(r, f, EVENTS_HTML);
	html_list(f, r, HP_REGRESSION, "regressions", "Regressions");
	html_list(f, r, HP_ERROR, "errors", "Errors (the harness could not run the cell)");
	html_findings(f, r);
	html_list(f, r, HP_IMPROVEMENT, "improvements", "Improvements (reported, not failed)");
	html_list(f, r, HP_FLAKY, "flaky", "Flaky cells (outcomes differ between repeats)");
	html_list(f, r, HP_FAILED, "failed", "Failed cells (no path found; not regressions)");
	fputs("</main>\n<aside id=\"details\"><h3>Details</h3><p class=\"hint\">Click a cell of a "
	      "heatmap, or a cell id in a table, to see its references, runs, reason, NAT mappings "
	      "and logs here.</p></aside></div>\n", f);
	fputs("<script type=\"application/json\" id=\"matrix-data\">", f);
	jw_write_results(&w, r, report_dir);
	fprintf(f, "</script>\n<script>\n%s</script>\n</body></html>\n", script);
	ret = ferror(f) ? -EIO : 0;
out:
	report_groups_free(&gs);
	return ret;
}
