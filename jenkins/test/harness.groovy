// A stand-in for a Jenkins pipeline, enough to run a shared-library step from vars/ for real.
//
//   JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64 groovy jenkins/test/harness.groovy SCENARIO.json REPORT.json
//
// SCENARIO.json: {"vars": "jenkins/vars", "step": "deployToEcs", "params": {...}, "workspace": "/dir",
//                 "env": {"PATH": ..., ...}, "credentials": {"id": {"accessKey": ..., "secretKey": ...}},
//                 "shell": "/bin/sh"}
// REPORT.json:   {"result": <the step's return value>, "error": <message of error()/an abort>,
//                 "scripts": [{"script", "label", "returnStdout", "returnStatus", "exitCode", "env", "envKeys"}],
//                 "log": <the console log>}
//
// Bound steps, as the real ones behave: sh (runs `SHELL -xe FILE` in the workspace with the step's environment;
// returnStdout/returnStatus; a non-zero exit aborts), withEnv (overrides expanded against the environment like
// EnvVars.overrideExpandingAll: $NAME and ${NAME} of existing variables), withCredentials (the
// AmazonWebServicesCredentialsBinding and usernamePassword bindings, from the scenario's credentials), error,
// echo, isUnix, pwd (tmp: true gives WORKSPACE@tmp), readFile, writeFile, fileExists, libraryResource (the
// library's resources/) and the env global. The library's other vars/ scripts are global variables of the step.
import groovy.json.JsonOutput
import groovy.json.JsonSlurperClassic
import groovy.transform.Field

/** What error() and a failed sh throw (hudson.AbortException in Jenkins). */
class AbortException extends RuntimeException {

    AbortException(String message) {
        super(message)
    }

}

/** The `env` global: properties read and write the current environment. */
class PipelineEnv {

    Map<String, String> vars = [:]

    Object propertyMissing(String name) {
        return vars[name]
    }

    void propertyMissing(String name, Object value) {
        vars[name] = value == null ? null : value.toString()
    }

    Map<String, String> getEnvironment() {
        return new LinkedHashMap<String, String>(vars)
    }

}

/** hudson.Util.replaceMacro: $NAME / ${NAME} of variables that exist; others stay as they are. */
String expandMacros(String value, Map<String, String> vars) {
    return value.replaceAll(/\$(?:([A-Za-z0-9_]+)|\{([A-Za-z0-9_.]+)\})/) { List<String> match ->
        String name = match[1] ?: match[2]
        return vars.containsKey(name) ? vars[name] : match.first()
    }
}

@Field final String USERNAME_PASSWORD = 'usernamePassword'

Map scenario = (Map) new JsonSlurperClassic().parse(new File(args[0]))
File reportFile = new File(args[1])
File workspace = new File((String) scenario.workspace).canonicalFile
String shell = scenario.shell ?: '/bin/sh'
Map credentials = scenario.credentials ?: [:]

StringBuilder log = new StringBuilder()
List<Map> scripts = []
PipelineEnv env = new PipelineEnv()
env.vars.putAll((Map<String, String>) (scenario.env ?: [:]))
env.vars.WORKSPACE = workspace.path

Closure console = { String line ->
    log.append(line).append('\n')
    System.err.println(line)
}

Binding binding = new Binding()
binding.env = env
binding.echo = { Object message -> console("${message}") }
binding.isUnix = { -> true }
binding.error = { String message ->
    console("ERROR: ${message}")
    throw new AbortException(message)
}
binding.pwd = { Map options = [:] ->
    File dir = options.tmp ? new File(workspace.path + '@tmp') : workspace
    dir.mkdirs()
    return dir.path
}
binding.readFile = { Object options ->
    String path = options instanceof Map ? options.file : options
    return new File(workspace, path).text
}
binding.writeFile = { Map options ->
    // As FilePath.child: a relative path is under the workspace, an absolute one is used as it is.
    File target = new File((String) options.file)
    (target.absolute ? target : new File(workspace, (String) options.file)).text = options.text
}
// libraryResource: a file from the library's resources/ (next to vars/), as text.
binding.libraryResource = { Object options ->
    String path = options instanceof Map ? options.resource : options
    return new File(new File((String) scenario.vars).parentFile, "resources/${path}").getText('UTF-8')
}
binding.fileExists = { String path -> new File(workspace, path).exists() }

binding.withEnv = { List overrides, Closure body ->
    Map<String, String> saved = env.environment
    try {
        for (Object item in overrides) {
            List<String> parts = "${item}".split('=', 2)
            String name = parts.first()
            String value = expandMacros(parts.last(), env.vars)
            List<String> nameParts = name.split(/\+/, 2)
            if (nameParts.size() == 2) {  // PATH+EXTRA=/dir prepends
                String base = nameParts.first()
                env.vars[base] = env.vars[base] ? value + File.pathSeparator + env.vars[base] : value
            } else {
                env.vars[name] = value
            }
        }
        return body()
    } finally {
        env.vars.clear()
        env.vars.putAll(saved)
    }
}

binding.withCredentials = { List bindings, Closure body ->
    Map<String, String> saved = env.environment
    try {
        for (Map spec in bindings) {
            Map credential = (Map) credentials[spec.credentialsId]
            if (credential == null) {
                throw new AbortException("Could not find credentials entry with ID '${spec.credentialsId}'")
            }
            String kind = spec.get('$class') ?: spec.kind
            if (kind == 'AmazonWebServicesCredentialsBinding') {
                env.vars[spec.accessKeyVariable ?: 'AWS_ACCESS_KEY_ID'] = credential.accessKey
                env.vars[spec.secretKeyVariable ?: 'AWS_SECRET_ACCESS_KEY'] = credential.secretKey
            } else if (kind in ['UsernamePasswordMultiBinding', USERNAME_PASSWORD]) {
                env.vars[spec.usernameVariable] = credential.username
                env.vars[spec.passwordVariable] = credential.password
            } else {
                throw new AbortException("harness: unsupported credential binding ${kind}")
            }
        }
        return body()
    } finally {
        env.vars.clear()
        env.vars.putAll(saved)
    }
}
binding.usernamePassword = { Map spec -> spec + [kind: USERNAME_PASSWORD] }

binding.sh = { Object arguments ->
    Map options = arguments instanceof Map ? arguments : [script: arguments]
    String script = options.script
    File file = File.createTempFile('harness-sh-', '.sh')
    file.text = script
    if (options.label) {
        console("[Pipeline] sh (${options.label})")
    }
    ProcessBuilder builder = new ProcessBuilder(shell, '-xe', file.path).directory(workspace)
    builder.environment().clear()
    env.vars.each { String name, String value ->
        if (value != null) {
            builder.environment()[name] = value
        }
    }
    Process process = builder.start()
    process.outputStream.close()
    StringBuffer stdout = new StringBuffer()
    StringBuffer stderr = new StringBuffer()
    process.consumeProcessOutput(stdout, stderr)
    int exitCode = process.waitFor()
    process.waitForProcessOutput()
    file.delete()
    stderr.toString().eachLine { String line -> console(line) }
    if (!options.returnStdout) {
        stdout.toString().eachLine { String line -> console(line) }
    }
    Map<String, String> shown = env.vars.findAll { String name, String value -> name.startsWith('CI_ECS_') }
    scripts << [script: script, label: options.label, returnStdout: options.returnStdout ?: false,
                returnStatus: options.returnStatus ?: false, exitCode: exitCode, env: shown,
                envKeys: env.vars.keySet().sort(), awsAccessKeyId: env.vars.AWS_ACCESS_KEY_ID]
    if (options.returnStatus) {
        return exitCode
    }
    if (exitCode) {
        console("ERROR: script returned exit code ${exitCode}")
        throw new AbortException("script returned exit code ${exitCode}")
    }
    return options.returnStdout ? stdout.toString() : null
}

Map report = [result: null, error: null, scripts: scripts, log: '']
GroovyShell groovyShell = new GroovyShell(this.class.classLoader, binding)
// As in Jenkins, every other vars/NAME.groovy is a global variable of the step: `NAME.method(...)` calls its
// methods (the library's internal helper, ciEcsInternal), with the same steps bound.
new File((String) scenario.vars).eachFileMatch(~/.*\.groovy/) { File file ->
    String name = file.name - '.groovy'
    if (name != scenario.step) {
        binding.setVariable(name, groovyShell.parse(file))
    }
}
Script step = groovyShell.parse(new File((String) scenario.vars, "${scenario.step}.groovy"))
try {
    report.result = step.call((Map) (scenario.params ?: [:]))
} catch (AbortException abort) {
    report.error = abort.message
}
report.log = log.toString()
reportFile.text = JsonOutput.prettyPrint(JsonOutput.toJson(report))
