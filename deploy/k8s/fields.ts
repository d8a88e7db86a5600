/**
 * @module
 * Unknown fields: the Kubernetes OpenAPI schemas (and so kubernetes-models' validators) allow
 * any extra property, so `readinesProbe:` or `readOnlyRootFileSystem:` passes them, and the
 * service then runs without what the manifest meant. An API server with strict field validation
 * refuses such a field; here each object is walked against kubernetes-models' TypeScript
 * declarations of its kind (`I<Kind>` of `kubernetes-models/<apiVersion>/<Kind>`, the same
 * Kubernetes 1.34 definitions), read with the TypeScript compiler's type checker.
 */
import { createRequire } from 'node:module';
import ts from 'typescript';

const require = createRequire(import.meta.url);

/** The declaration module of a kind, e.g. `kubernetes-models/apps/v1/Deployment`. */
const moduleOf = (key: string) => `kubernetes-models/${key}`;

/**
 * One type checker over the declarations of `kinds` (`apps/v1/Deployment`, `v1/Service`, ...).
 * @returns the walker: an object's unknown fields as `Kind/name: spec.template...field`.
 */
export function fieldChecker(
  kinds: readonly string[],
): (key: string, object: unknown, where: string) => string[] {
  const root = '/virtual/kinds.ts';
  const source = [
    ...kinds.map((key, i) => `import type { I${key.split('/').at(-1)} as K${i} } from '${moduleOf(key)}';`),
    `export interface Kinds { ${kinds.map((key, i) => `'${key}': K${i};`).join(' ')} }`,
  ].join('\n');
  const options: ts.CompilerOptions = {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    strict: true,
    noEmit: true,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile;
  host.getSourceFile = (name, language) =>
    name === root ? ts.createSourceFile(name, source, language) : getSourceFile(name, language);
  host.fileExists = (
    (exists) => (name: string) =>
      name === root || exists(name)
  )(host.fileExists);
  // Resolve the package from this project, whatever the virtual file's directory.
  host.resolveModuleNameLiterals = (literals, containingFile) =>
    literals.map((literal) => {
      const from =
        containingFile === root ? require.resolve('kubernetes-models/package.json') : containingFile;
      return ts.resolveModuleName(literal.text, from, options, host);
    });
  const program = ts.createProgram([root], options, host);
  const checker = program.getTypeChecker();
  const file = program.getSourceFile(root) as ts.SourceFile;
  const kindsSymbol = checker.getSymbolAtLocation(
    (file.statements.at(-1) as ts.InterfaceDeclaration).name,
  ) as ts.Symbol;
  const kindsType = checker.getDeclaredTypeOfSymbol(kindsSymbol);
  const unresolved = kinds.filter((key) => {
    const prop = kindsType.getProperty(key);
    return !prop || checker.getTypeOfSymbol(prop).getProperties().length === 0;
  });
  if (unresolved.length > 0) throw new Error(`no declarations found for ${unresolved.join(', ')}`);

  /** The object member of `T | undefined`, `T[]`'s element, or the type itself. */
  const objectPart = (type: ts.Type): ts.Type => {
    const solid = checker.getNonNullableType(type);
    if (!solid.isUnion()) return solid;
    return solid.types.find((t) => t.flags & ts.TypeFlags.Object) ?? solid;
  };

  function walk(value: unknown, type: ts.Type, path: string, problems: string[]): void {
    const target = objectPart(type);
    if (Array.isArray(value)) {
      const element = checker.isArrayType(target)
        ? checker.getTypeArguments(target as ts.TypeReference)[0]
        : undefined;
      if (element) for (const [i, item] of value.entries()) walk(item, element, `${path}[${i}]`, problems);
      return;
    }
    if (value === null || typeof value !== 'object' || !(target.flags & ts.TypeFlags.Object)) return;
    const index = checker.getIndexInfoOfType(target, ts.IndexKind.String);
    for (const [key, item] of Object.entries(value)) {
      const prop = target.getProperty(key);
      const at = path ? `${path}.${key}` : key;
      if (prop) walk(item, checker.getTypeOfSymbol(prop), at, problems);
      else if (index) walk(item, index.type, at, problems);
      else problems.push(`${at}: unknown field`);
    }
  }

  return (key, object, where) => {
    const prop = kindsType.getProperty(key);
    if (!prop) return [`${where}: no declarations here for ${key}`];
    const problems: string[] = [];
    walk(object, checker.getTypeOfSymbol(prop), '', problems);
    return problems.map((problem) => `${where}: ${problem}`);
  };
}
