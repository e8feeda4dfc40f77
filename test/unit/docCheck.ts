import * as fs from "fs";
import * as path from "path";
import * as ts from "typescript";

/**
 * The documentation rule of the package (design.md, "Conventions"), checked
 * with the TypeScript compiler API:
 *
 * - every exported class has a doc comment, and so does each of its public
 *   fields (a component's outputs);
 * - every exported `*Args` interface, and every interface or inline object
 *   type its fields use (ImageSpec, RegistrySpec, NodeGroupSpec, …, followed
 *   through `pulumi.Input<…>`, arrays, unions, `Record`s and type aliases),
 *   has a doc comment, as does each of its fields; the same holds for the
 *   options a constructor of an exported class takes;
 * - an optional field's comment states its default (`Default: …` or
 *   `@default`) and a mandatory field's says `Required`.
 *
 * Returns one line per problem: `file:line: what`.
 */
export function checkDocComments(files: readonly string[], root: string): string[] {
    const program = ts.createProgram([...files], {
        // Only the given files: imports between them still bind, and nothing
        // else (no lib, no @pulumi typings) is parsed, so the check stays fast.
        noResolve: true,
        noLib: true,
        types: [],
        target: ts.ScriptTarget.ES2022,
        module: ts.ModuleKind.CommonJS,
        moduleResolution: ts.ModuleResolutionKind.Node10,
    });
    const checker = program.getTypeChecker();
    const ours = new Set(files.map((f) => path.resolve(f)));
    const problems: string[] = [];
    const seen = new Set<ts.Node>();

    const where = (node: ts.Node): string => {
        const sf = node.getSourceFile();
        const { line } = sf.getLineAndCharacterOfPosition(node.getStart(sf));
        return `${path.relative(root, sf.fileName)}:${line + 1}`;
    };
    const report = (node: ts.Node, what: string) => problems.push(`${where(node)}: ${what}`);

    const fieldName = (owner: string, member: ts.Node & { name?: ts.PropertyName | ts.BindingName }) =>
        `${owner}.${member.name && ts.isIdentifier(member.name) ? member.name.text : member.name?.getText() ?? "?"}`;

    /** Interfaces and type aliases declared in the checked files that a type reference names. */
    const declarationsOf = (ref: ts.TypeReferenceNode): ts.Declaration[] => {
        let symbol = checker.getSymbolAtLocation(ts.isQualifiedName(ref.typeName) ? ref.typeName.right : ref.typeName);
        if (symbol && symbol.flags & ts.SymbolFlags.Alias) {
            symbol = checker.getAliasedSymbol(symbol);
        }
        return (symbol?.declarations ?? []).filter((d) => ours.has(path.resolve(d.getSourceFile().fileName)));
    };

    /** Checks every interface and object type a type node uses. */
    const walkType = (node: ts.TypeNode | undefined, owner: string): void => {
        if (node === undefined) {
            return;
        }
        if (ts.isTypeReferenceNode(node)) {
            for (const decl of declarationsOf(node)) {
                if (ts.isInterfaceDeclaration(decl)) {
                    checkInterface(decl);
                } else if (ts.isTypeAliasDeclaration(decl) && !seen.has(decl)) {
                    seen.add(decl);
                    walkType(decl.type, decl.name.text);
                }
            }
            node.typeArguments?.forEach((t) => walkType(t, owner));
        } else if (ts.isTypeLiteralNode(node)) {
            checkMembers(node.members, owner);
        } else if (ts.isUnionTypeNode(node) || ts.isIntersectionTypeNode(node)) {
            node.types.forEach((t) => walkType(t, owner));
        } else if (ts.isArrayTypeNode(node)) {
            walkType(node.elementType, owner);
        } else if (ts.isTypeOperatorNode(node) || ts.isParenthesizedTypeNode(node)) {
            walkType(node.type, owner);
        } else if (ts.isTupleTypeNode(node)) {
            node.elements.forEach((t) => walkType(ts.isNamedTupleMember(t) ? t.type : t, owner));
        }
    };

    const checkMembers = (members: ts.NodeArray<ts.TypeElement>, owner: string): void => {
        for (const member of members) {
            if (!ts.isPropertySignature(member)) {
                continue;
            }
            const name = fieldName(owner, member);
            const text = docText(member);
            if (text === undefined) {
                report(member, `${name} has no doc comment (say what it is and its default, or "Required")`);
            } else if (member.questionToken !== undefined && !/\bDefaults?\b|@default\b/.test(text)) {
                report(member, `${name} is optional but its doc comment states no default ("Default: …")`);
            } else if (member.questionToken === undefined && !/\bRequired\b/.test(text)) {
                report(member, `${name} is mandatory but its doc comment does not say "Required"`);
            }
            walkType(member.type, name);
        }
    };

    const checkInterface = (decl: ts.InterfaceDeclaration): void => {
        if (seen.has(decl)) {
            return;
        }
        seen.add(decl);
        if (docText(decl) === undefined) {
            report(decl, `interface ${decl.name.text} has no doc comment`);
        }
        // Fields inherited from another interface of the package are its fields too.
        decl.heritageClauses?.forEach((h) => h.types.forEach((t) => {
            let symbol = checker.getSymbolAtLocation(t.expression);
            if (symbol && symbol.flags & ts.SymbolFlags.Alias) {
                symbol = checker.getAliasedSymbol(symbol);
            }
            symbol?.declarations?.filter(ts.isInterfaceDeclaration).forEach(checkInterface);
        }));
        checkMembers(decl.members, decl.name.text);
    };

    const isExported = (node: ts.Node) =>
        ts.canHaveModifiers(node) && (ts.getModifiers(node) ?? []).some((m) => m.kind === ts.SyntaxKind.ExportKeyword);
    const isPublic = (node: ts.Node) =>
        !(ts.canHaveModifiers(node) ? ts.getModifiers(node) ?? [] : []).some((m) =>
            m.kind === ts.SyntaxKind.PrivateKeyword || m.kind === ts.SyntaxKind.ProtectedKeyword);

    const checkClass = (decl: ts.ClassDeclaration): void => {
        const name = decl.name?.text ?? "(anonymous class)";
        if (docText(decl) === undefined) {
            report(decl, `class ${name} has no doc comment`);
        }
        for (const member of decl.members) {
            if (ts.isPropertyDeclaration(member) && isPublic(member) && !ts.isPrivateIdentifier(member.name) && docText(member) === undefined) {
                report(member, `${fieldName(name, member)} (a public field) has no doc comment`);
            }
            if (ts.isConstructorDeclaration(member)) {
                for (const param of member.parameters) {
                    const isField = (ts.getModifiers(param) ?? []).some((m) =>
                        m.kind === ts.SyntaxKind.ReadonlyKeyword || m.kind === ts.SyntaxKind.PublicKeyword);
                    if (isField && isPublic(param) && docText(param) === undefined) {
                        report(param, `${fieldName(name, param)} (a public field) has no doc comment`);
                    }
                    walkType(param.type, `new ${name}(${param.name.getText()})`);
                }
            }
        }
    };

    for (const file of files) {
        const sf = program.getSourceFile(file);
        if (sf === undefined) {
            throw new Error(`docs check: could not read ${file}`);
        }
        for (const statement of sf.statements) {
            if (!isExported(statement)) {
                continue;
            }
            if (ts.isClassDeclaration(statement)) {
                checkClass(statement);
            } else if (ts.isInterfaceDeclaration(statement) && statement.name.text.endsWith("Args")) {
                checkInterface(statement);
            }
        }
    }
    return problems;
}

/** The text of a node's doc comment(s), tags included; undefined when it has none. */
export function docText(node: ts.Node): string | undefined {
    const docs = ts.getJSDocCommentsAndTags(node).filter(ts.isJSDoc);
    if (docs.length === 0) {
        return undefined;
    }
    const text = docs.map((d) => [
        ts.getTextOfJSDocComment(d.comment) ?? "",
        ...(d.tags ?? []).map((t) => `@${t.tagName.text} ${ts.getTextOfJSDocComment(t.comment) ?? ""}`),
    ].join("\n")).join("\n").trim();
    return text === "" ? undefined : text;
}

/** Every `.ts` file under a directory (declaration files excluded), sorted. */
export function tsFilesUnder(dir: string): string[] {
    return fs.readdirSync(dir, { withFileTypes: true, recursive: true })
        .filter((e) => e.isFile() && e.name.endsWith(".ts") && !e.name.endsWith(".d.ts"))
        .map((e) => path.join(e.parentPath, e.name))
        .sort();
}
