// The stand-in controller's build runner: runs a job's Jenkinsfile (the declarative subset `ci-ecs jenkins
// setup` generates) with the library steps from vars/ run by jenkins/test/harness.groovy, for real.
//
//   groovy tests/jenkins/pipeline.groovy SCENARIO.json
//
// SCENARIO.json: {"jenkinsfile": path, "vars": dir, "harness": path, "workspace": dir, "params": {...},
//                 "env": {...}, "credentials": {...}}
// Bound, as Pipeline behaves: pipeline/agent/stages/stage/steps/script blocks, echo, writeFile, error, unstable,
// params, env, currentBuild.result, and every vars/NAME.groovy step (run in the harness). `@Library(...) _` lines
// were resolved by the controller (it checked the library out to `vars`), so they are dropped here. Everything
// goes to stderr, which the controller serves as the console; the exit code is the build's result: 0 SUCCESS,
// 1 FAILURE, 2 UNSTABLE, 3 NOT_BUILT.
import groovy.json.JsonOutput
import groovy.json.JsonSlurperClassic

/** hudson.AbortException: what error() and a failed step throw. */
class PipelineAbort extends RuntimeException {

    PipelineAbort(String message) {
        super(message)
    }

}

/** currentBuild (RunWrapper): `result` is the result so far; setting it only ever makes it worse (Run.setResult). */
class CurrentBuild {

    // hudson.model.Result, best first.
    static final List<String> ORDER = ['SUCCESS', 'UNSTABLE', 'FAILURE', 'NOT_BUILT', 'ABORTED']
    String result

    void setResult(String value) {
        if (result == null || ORDER.indexOf(value) > ORDER.indexOf(result)) {
            this.@result = value
        }
    }

}

Map scenario = (Map) new JsonSlurperClassic().parse(new File(args[0]))
File workspace = new File((String) scenario.workspace)
workspace.mkdirs()
Closure console = { Object line ->
    System.err.println("${line}")
    System.err.flush()
}
String text = new File((String) scenario.jenkinsfile).text.readLines().collect { String line ->
    line ==~ /\s*@Library\(.*\)\s*_\s*/ ? '' : line
}.join('\n')

Binding binding = new Binding()
CurrentBuild currentBuild = new CurrentBuild()
binding.currentBuild = currentBuild
Closure worsen = { String result -> currentBuild.result = result }
binding.params = scenario.params ?: [:]
binding.env = scenario.env ?: [:]
binding.any = 'any'
binding.pipeline = { Closure body ->
    console('[Pipeline] Start of Pipeline')
    body()
    console('[Pipeline] End of Pipeline')
}
binding.agent = { Object label -> console("[Pipeline] node (${label})") }
binding.stages = { Closure body -> body() }
binding.stage = { String name, Closure body ->
    console("[Pipeline] { (${name})")
    body()
    console('[Pipeline] }')
}
binding.steps = { Closure body -> body() }
binding.script = { Closure body -> body() }
binding.echo = { Object message -> console(message) }
binding.error = { String message ->
    console("ERROR: ${message}")
    throw new PipelineAbort(message)
}
// The `unstable` step: a warning in the console, the build UNSTABLE, the steps go on.
binding.unstable = { String message ->
    console("WARNING: ${message}")
    worsen('UNSTABLE')
}
binding.writeFile = { Map options ->
    new File(workspace, (String) options.file).setText((String) options.text, 'UTF-8')
}
int stepRuns = 0
new File((String) scenario.vars).eachFileMatch(~/.*\.groovy/) { File file ->
    String step = file.name - '.groovy'
    binding.setVariable(step) { Map stepParams = [:] ->
        stepRuns++
        File scenarioFile = new File(workspace.path + '@tmp', "step-${stepRuns}.json")
        scenarioFile.parentFile.mkdirs()
        File reportFile = new File(workspace.path + '@tmp', "step-${stepRuns}.report.json")
        scenarioFile.text = JsonOutput.toJson([vars: scenario.vars, step: step, params: stepParams,
                                               workspace: workspace.path, env: scenario.env,
                                               credentials: scenario.credentials ?: [:]])
        new GroovyShell(new Binding()).run(new File((String) scenario.harness),
                                           [scenarioFile.path, reportFile.path] as String[])
        Map report = (Map) new JsonSlurperClassic().parse(reportFile)
        if (report.error != null) {
            throw new PipelineAbort((String) report.error)  // the harness logged "ERROR: ..." already
        }
        return report.result
    }
}

try {
    new GroovyShell(binding).evaluate(text, 'Jenkinsfile')
} catch (PipelineAbort abort) {
    worsen('FAILURE')
} catch (Exception exception) {
    console("ERROR: ${exception}")
    worsen('FAILURE')
}
System.exit([SUCCESS: 0, FAILURE: 1, UNSTABLE: 2, NOT_BUILT: 3][currentBuild.result ?: 'SUCCESS'])
